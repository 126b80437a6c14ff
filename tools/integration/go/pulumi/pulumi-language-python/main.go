// Command pulumi-language-python is a minimal Python language host for the
// integration tier (tools/integration/build.sh).
//
// Why it exists: Pulumi's own host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3), which the
// Go module proxy reachable here refuses at every version, so it cannot be
// built. This stand-in implements only what `pulumi preview/up/destroy` need:
// it runs the program with the `pulumi-language-python-exec` shim that ships in
// the published sdk/v3 module (copied next to this binary by build.sh), using
// the same toolchain resolution (Pulumi.yaml runtime options `virtualenv`,
// `toolchain`) as the real host. Everything else (pulumi new/install/about,
// conformance, codegen) answers Unimplemented, but RunPlugin runs Python policy
// packs (`pulumi preview --policy-pack`). It reports no required plugins,
// so providers are loaded on demand (from PATH or ~/.pulumi/plugins).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"

	pbempty "google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
)

// Version is set with -ldflags "-X main.Version=..." to the Pulumi version.
var Version = "dev"

// Exit code the shim uses after it has already shown the user an error.
const bailExitCode = 32

func main() {
	// Flags the engine may pass to any plugin (all ignored). glog, linked in
	// through the SDK, already defines -v and -logtostderr.
	for _, name := range []string{"tracing", "root"} {
		if flag.Lookup(name) == nil {
			flag.String(name, "", "(ignored)")
		}
	}
	for _, name := range []string{"logtostderr", "logflow"} {
		if flag.Lookup(name) == nil {
			flag.Bool(name, false, "(ignored)")
		}
	}
	if flag.Lookup("v") == nil {
		flag.Int("v", 0, "(ignored)")
	}
	flag.Parse()

	engineAddress := flag.Arg(0)
	exe, err := os.Executable()
	if err != nil {
		fatal(err)
	}
	shim := exe + "-exec"
	if _, err := os.Stat(shim); err != nil {
		fatal(fmt.Errorf("python exec shim not found next to the language host: %w", err))
	}

	host := &pythonHost{engineAddress: engineAddress, shim: shim}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fatal(fmt.Errorf("could not start language host RPC server: %w", err))
	}
	// The engine reads the port from our first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

type pythonHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
	shim          string
}

func (h *pythonHost) Handshake(ctx context.Context,
	req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *pythonHost) GetPluginInfo(context.Context, *pbempty.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

func (h *pythonHost) GetRequiredPlugins(context.Context,
	*pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	return &pulumirpc.GetRequiredPluginsResponse{}, nil
}

func (h *pythonHost) GetRequiredPackages(context.Context,
	*pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	return &pulumirpc.GetRequiredPackagesResponse{}, nil
}

// resolveToolchain mirrors the runtime options of Pulumi.yaml:
// runtime: {name: python, options: {virtualenv: DIR, toolchain: pip|uv|poetry}}.
func resolveToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{
		Root:       info.GetRootDirectory(),
		ProgramDir: info.GetProgramDirectory(),
		Toolchain:  toolchain.Auto,
	}
	fields := map[string]*structpb.Value{}
	if info.GetOptions() != nil {
		fields = info.GetOptions().GetFields()
	}
	if v, ok := fields["virtualenv"]; ok {
		opts.Virtualenv = v.GetStringValue()
		opts.Toolchain = toolchain.Pip
	}
	if v, ok := fields["toolchain"]; ok {
		switch v.GetStringValue() {
		case "pip":
			opts.Toolchain = toolchain.Pip
		case "uv":
			opts.Toolchain = toolchain.Uv
		case "poetry":
			opts.Toolchain = toolchain.Poetry
		default:
			return nil, fmt.Errorf("unsupported python toolchain %q", v.GetStringValue())
		}
	}
	return toolchain.ResolveToolchain(opts)
}

func (h *pythonHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{
			RootDirectory:    req.GetPwd(),
			ProgramDirectory: req.GetPwd(),
			EntryPoint:       req.GetProgram(),
		}
	}
	tc, err := resolveToolchain(info)
	if err != nil {
		return nil, err
	}

	args := []string{"-u", h.shim}
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engineAddress)
	add("project", req.GetProject())
	add("stack", req.GetStack())
	add("pwd", info.GetProgramDirectory())
	add("dry_run", fmt.Sprintf("%v", req.GetDryRun()))
	add("parallel", fmt.Sprint(req.GetParallel()))
	add("organization", req.GetOrganization())
	add("root_directory", info.GetRootDirectory())
	program := info.GetEntryPoint()
	if program == "" {
		program = "."
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	// The shim expects a JSON object and a JSON list ("null" breaks it).
	config, secretKeys := req.GetConfig(), req.GetConfigSecretKeys()
	if config == nil {
		config = map[string]string{}
	}
	if secretKeys == nil {
		secretKeys = []string{}
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, err
	}
	secretKeysJSON, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not find python: %v", err)}, nil
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env,
		"PULUMI_CONFIG="+string(configJSON),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeysJSON),
	)
	cmd.Dir = info.GetProgramDirectory()
	if cmd.Dir == "" {
		cmd.Dir, _ = filepath.Abs(".")
	}
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == bailExitCode {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("Problem executing program (could not run language executor): %v", err),
		}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin starts a Python policy pack the way Pulumi's own host does: the
// pack's folder is the program, run by pulumi.policy with the engine address.
func (h *pythonHost) RunPlugin(req *pulumirpc.RunPluginRequest,
	server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	info := req.GetInfo()
	if info == nil {
		info = &pulumirpc.ProgramInfo{
			RootDirectory:    req.GetPwd(),
			ProgramDirectory: req.GetProgram(),
			EntryPoint:       ".",
		}
	}
	tc, err := resolveToolchain(info)
	if err != nil {
		return err
	}
	args := append([]string{"-u", "-m", "pulumi.policy"}, req.GetArgs()...)
	args = append(args, info.GetProgramDirectory())
	cmd, err := tc.Command(server.Context(), args...)
	if err != nil {
		return fmt.Errorf("could not find python: %w", err)
	}
	cmd.Env = append(os.Environ(), req.GetEnv()...)
	cmd.Dir = req.GetPwd()
	// One lock for both writers: a gRPC stream takes one Send at a time.
	var mu sync.Mutex
	cmd.Stdout = &streamWriter{mu: &mu, send: func(b []byte) error {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b},
		})
	}}
	cmd.Stderr = &streamWriter{mu: &mu, send: func(b []byte) error {
		return server.Send(&pulumirpc.RunPluginResponse{
			Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b},
		})
	}}
	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = int32(exitErr.ExitCode())
	}
	return server.Send(&pulumirpc.RunPluginResponse{
		Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code},
	})
}

// streamWriter forwards a process's output to the engine as it is written.
type streamWriter struct {
	mu   *sync.Mutex
	send func([]byte) error
}

func (w *streamWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.send(append([]byte(nil), p...)); err != nil {
		return 0, err
	}
	return len(p), nil
}
