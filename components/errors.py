"""The one exception type for mistakes in user input (stack config and decks)."""


class InputError(Exception):
    """Bad stack config or deck; the message is complete and meant for the user."""
