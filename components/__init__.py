"""Building blocks of the stack: pure planning modules and Pulumi components."""
