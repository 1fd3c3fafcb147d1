package heroa_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/heroa/heroa-sdk/bindings-go"
)

// server is `heroa serve` (the repository's binary) on a loopback port.
type server struct {
	url, key string
	cmd      *exec.Cmd
}

func startServer(t *testing.T) *server {
	t.Helper()
	bin := os.Getenv("HEROA_BIN")
	if bin == "" {
		bin = filepath.Join("..", "target", "debug", "heroa")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	key := "heroa_sk_go_" + hex.EncodeToString(b)
	cmd := exec.Command(bin, "--data", filepath.Join(t.TempDir(), "heroa.db"), "serve", "--bind", addr)
	cmd.Env = append(os.Environ(), "HEROA_API_KEY="+key)
	if err := cmd.Start(); err != nil {
		t.Fatalf("heroa serve: %v", err)
	}
	s := &server{url: "http://" + addr, key: key, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if r, err := http.Get(s.url + "/v1/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return s
			}
		}
	}
	t.Fatal("heroa serve did not start")
	return nil
}

// onBoth runs scenario on the embedded runtime and against heroa serve.
func onBoth(t *testing.T, scenario func(t *testing.T, c *heroa.Client)) {
	t.Run("embedded", func(t *testing.T) {
		c, err := heroa.Embedded("")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		scenario(t, c)
	})
	t.Run("remote", func(t *testing.T) {
		s := startServer(t)
		c := heroa.NewClient(heroa.WithBaseURL(s.url), heroa.WithAPIKey(s.key))
		if err := c.Err(); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		scenario(t, c)
	})
}

func autonomous(t *testing.T, ctx context.Context, c *heroa.Client, name string) *heroa.Agent {
	t.Helper()
	a, err := c.Agents.Register(ctx, heroa.RegisterAgent{Name: name, Region: "us-east"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Policies.Create(ctx, a.ID, "permit(principal, action, resource);"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Agents.SetPromotion(ctx, a.ID, "L3_autonomous"); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAgentsAndErrors(t *testing.T) {
	onBoth(t, func(t *testing.T, c *heroa.Client) {
		ctx := context.Background()
		a, err := c.Agents.Register(ctx, heroa.RegisterAgent{Name: "lead-research", Region: "eu-west", ApprovalWindow: "2h"})
		if err != nil {
			t.Fatal(err)
		}
		if a.ApprovalWindowSeconds != 7200 || a.Promotion != "L0_shadow" || len(a.ID) != 29 {
			t.Fatalf("agent %+v", a)
		}
		got, err := c.Agents.Get(ctx, a.ID)
		if err != nil || got.Name != "lead-research" {
			t.Fatalf("get: %v %+v", err, got)
		}
		_, err = c.Agents.Register(ctx, heroa.RegisterAgent{Name: "x", Region: "mars"})
		var herr *heroa.Error
		if !errors.As(err, &herr) || herr.Kind != heroa.KindInvalidArgument || herr.Field != "region" {
			t.Fatalf("want invalid_argument on region, got %v", err)
		}
		if !errors.Is(err, heroa.ErrInvalidArgument) || errors.Is(err, heroa.ErrNotFound) {
			t.Fatalf("errors.Is: %v", err)
		}
		_, err = c.Agents.Get(ctx, "ag_00000000000000000000000000")
		if !errors.Is(err, heroa.ErrNotFound) {
			t.Fatalf("want not found, got %v", err)
		}
		names := []string{}
		for ag, err := range c.Agents.All(ctx) {
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, ag.Name)
		}
		if fmt.Sprint(names) != "[lead-research]" {
			t.Fatalf("all: %v", names)
		}
	})
}

func TestRunWaitAndStream(t *testing.T) {
	onBoth(t, func(t *testing.T, c *heroa.Client) {
		ctx := context.Background()
		a := autonomous(t, ctx, c, "runner")
		started, err := c.Agents.Run(ctx, a.ID, map[string]any{"calls": []any{map[string]any{"skill": "heroa:echo", "args": map[string]any{"someKey": 1}}}})
		if err != nil {
			t.Fatal(err)
		}
		run, err := c.Runs.Wait(ctx, started.ID, 20*time.Second)
		if err != nil || run.Status != "complete" || run.CostUSD != "0" {
			t.Fatalf("wait: %v %+v", err, run)
		}
		var out struct {
			Results []struct {
				Output map[string]int `json:"output"`
			} `json:"results"`
		}
		if err := json.Unmarshal(run.Output, &out); err != nil || out.Results[0].Output["someKey"] != 1 {
			t.Fatalf("output %s", run.Output)
		}
		var events []string
		for ev, err := range c.Runs.Stream(ctx, run.ID) {
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, ev.Event)
		}
		if len(events) < 3 || events[len(events)-1] != "done" {
			t.Fatalf("events %v", events)
		}
	})
}

func TestContextCancelsTheCall(t *testing.T) {
	onBoth(t, func(t *testing.T, c *heroa.Client) {
		a := autonomous(t, context.Background(), c, "sleeper")
		run, err := c.Agents.Run(context.Background(), a.ID, map[string]any{"calls": []any{map[string]any{"skill": "heroa:sleep", "args": map[string]any{"ms": 5000}}}})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		_, err = c.Runs.Wait(ctx, run.ID, 0)
		if !errors.Is(err, heroa.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("want the context's deadline, got %v", err)
		}
		if time.Since(start) > 3*time.Second {
			t.Fatal("the call outlived its context")
		}
		ctx2, cancel2 := context.WithCancel(context.Background())
		cancel2()
		if _, err := c.Runs.Get(ctx2, run.ID); !errors.Is(err, heroa.ErrCancelled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("want cancelled, got %v", err)
		}
		if r, err := c.Runs.Cancel(context.Background(), run.ID); err != nil || r.Status != "cancelled" {
			t.Fatalf("cancel: %v %+v", err, r)
		}
	})
}

func TestDeploySubAgentAndRunIt(t *testing.T) {
	onBoth(t, func(t *testing.T, c *heroa.Client) {
		ctx := context.Background()
		worker, err := c.Deploy(ctx, heroa.DeployInput{Mode: heroa.ModeAgent, Template: "noop", Region: "us-east", TTL: "30m"})
		if err != nil {
			t.Fatal(err)
		}
		if worker.Handle == "" || worker.ExpiresAt == "" || worker.URL != "" {
			t.Fatalf("deployment %+v", worker)
		}
		run, err := worker.Run(ctx, map[string]any{"task": "embed"}, 20*time.Second)
		if err != nil || run.AgentID != worker.Handle || !run.Ended() {
			t.Fatalf("run: %v %+v", err, run)
		}
		_, err = c.Deploy(ctx, heroa.DeployInput{Mode: "boat"})
		if herr := (*heroa.Error)(nil); !errors.As(err, &herr) || herr.Field != "mode" {
			t.Fatalf("want field mode, got %v", err)
		}
	})
}

// The package-level Deploy (the deploy guide's one call) runs on the client the
// environment names: here none, so the embedded runtime in memory.
func TestPackageLevelDeploy(t *testing.T) {
	for _, k := range []string{"HEROA_BASE_URL", "HEROA_API_KEY", "HEROA_DATA"} {
		t.Setenv(k, "")
	}
	ctx := context.Background()
	worker, err := heroa.Deploy(ctx, heroa.DeployOptions{Mode: heroa.ModeAgent, Template: "batch-processor", TTL: "30m"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := worker.Run(ctx, map[string]any{"items": []any{"a", "b"}, "task": "embed"}, 20*time.Second)
	if err != nil || !run.Ended() {
		t.Fatalf("run: %v %+v", err, run)
	}
	c, err := heroa.DefaultClient()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Deployments.Get(ctx, worker.ID); err != nil || got.Handle != worker.Handle {
		t.Fatalf("the default client holds it: %+v %v", got, err)
	}
}

func TestClosedClientAndBadRemote(t *testing.T) {
	c, err := heroa.Embedded("")
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c.Close()
	if _, err := c.Agents.Get(context.Background(), "ag_1"); !errors.Is(err, heroa.ErrFailedPrecondition) {
		t.Fatalf("closed: %v", err)
	}
	noKey := heroa.NewClient(heroa.WithBaseURL("http://127.0.0.1:9"), heroa.WithAPIKey(""))
	if !errors.Is(noKey.Err(), heroa.ErrInvalidArgument) {
		t.Fatalf("no key: %v", noKey.Err())
	}
	// A client that could not open answers why from every call.
	if _, err := noKey.Agents.Get(context.Background(), "ag_1"); !errors.Is(err, heroa.ErrInvalidArgument) {
		t.Fatalf("broken client call: %v", err)
	}
	if bad := heroa.NewClient(42); !errors.Is(bad.Err(), heroa.ErrInvalidArgument) {
		t.Fatalf("bad option: %v", bad.Err())
	}
	secret := "heroa_sk_never_in_errors_0123456789abcdef"
	_, err = heroa.Remote("not a url", secret)
	if err == nil || contains(err.Error(), secret) {
		t.Fatalf("bad url: %v", err)
	}
}

// Neither a goroutine nor a cgo handle outlives the calls: a leak check over a
// burst of calls (some cancelled), a stream left early, Go skills and a Go
// template run to the end and cancelled, then the client closed.
func TestNoGoroutineOrHandleLeaks(t *testing.T) {
	handlesBefore := heroa.LiveHandles()
	goroutinesBefore := goroutines()
	c, err := heroa.Embedded("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	a := autonomous(t, ctx, c, "leaks")
	for i := 0; i < 200; i++ {
		if _, err := c.Agents.Get(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, _ = c.Agents.Get(cctx, a.ID)
	}
	run, _ := c.Agents.Run(ctx, a.ID, nil)
	for range c.Runs.Stream(ctx, run.ID) {
		break
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.RegisterSkill("leak:skill", heroa.Read, func(ctx context.Context, _ *heroa.SkillCall) (any, error) {
		return "ok", nil
	}))
	must(c.RegisterTemplate("leak-loop", func(ctx context.Context, run *heroa.RunContext) (any, error) {
		for i := 0; i < 5; i++ {
			if _, err := run.Call(ctx, "leak:skill", nil); err != nil {
				return nil, err
			}
		}
		if string(run.Input) == `{"wait":true}` {
			<-ctx.Done()
		}
		return "done", nil
	}))
	_, err = c.Agents.Update(ctx, a.ID, heroa.UpdateAgent{Template: "leak-loop"})
	must(err)
	for i := 0; i < 20; i++ {
		r, _ := c.Agents.Run(ctx, a.ID, nil)
		if r, err := c.Runs.Wait(ctx, r.ID, 10*time.Second); err != nil || r.Status != "complete" {
			t.Fatalf("run %d: %v %v", i, r.Status, err)
		}
	}
	waiting, _ := c.Agents.Run(ctx, a.ID, map[string]any{"wait": true})
	time.Sleep(50 * time.Millisecond)
	_, _ = c.Runs.Cancel(ctx, waiting.ID)
	_, _ = c.Runs.Wait(ctx, waiting.ID, 10*time.Second)
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for heroa.LiveHandles() != handlesBefore && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := heroa.LiveHandles(); after != handlesBefore {
		t.Fatalf("cgo handles: %d before, %d after", handlesBefore, after)
	}
	for goroutines() > goroutinesBefore && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := goroutines(); after > goroutinesBefore {
		buf := make([]byte, 1<<16)
		t.Fatalf("goroutines: %d before, %d after:\n%s", goroutinesBefore, after, buf[:runtime.Stack(buf, true)])
	}
}

// goroutines counts the goroutines running Go code: not the runtime's placeholders
// for the library's own threads, which Go keeps once such a thread has called
// into Go (a callback) — "[syscall, locked to thread]" with only runtime.goexit.
func goroutines() int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "[syscall, locked to thread]") && strings.Count(strings.TrimSpace(g), "\n") <= 2 && strings.Contains(g, "runtime.goexit") {
			continue
		}
		n++
	}
	return n
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// goExample runs `go run ./name` in examples/go (without the caller's HEROA_
// settings) and answers its output and exit code.
func goExample(t *testing.T, name string) (string, int) {
	t.Helper()
	cmd := exec.Command("go", "run", "./"+name)
	cmd.Dir = filepath.Join("..", "examples", "go")
	env := []string{}
	for _, kv := range os.Environ() {
		if len(kv) < 6 || kv[:6] != "HEROA_" {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HEROA_API_KEY=")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return string(out), exit.ExitCode()
	}
	if err != nil {
		t.Fatalf("go run ./%s: %v\n%s", name, err, out)
	}
	return string(out), 0
}

// The onboarding guide's flow in Go (examples/go/onboarding) runs every step: the
// shadow run executes nothing, the live one executes the allowed skill and blocks
// the other, the audit chain verifies and the signed webhook is received.
func TestTheOnboardingGuideInGo(t *testing.T) {
	text, code := goExample(t, "onboarding")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, text)
	}
	for _, want := range []string{
		"step 1  agent registered: ag_",
		"step 3  vault entry hubspot_token v1",
		"step 5  L0 shadow run: partial — 1 shadowed, 0 executed, 1 blocked",
		"step 6  L3 run: partial, cost $0.01, 1 executed, 1 blocked",
		"valid = true",
		"step 7  scheduled 0 3 * * *",
		"webhook received and verified: run.completed, run run_",
	} {
		if !contains(text, want) {
			t.Fatalf("want %q in:\n%s", want, text)
		}
	}
	if contains(text, "pat-na1-from-your-secrets-manager") {
		t.Fatal("the vault value was printed")
	}
}

// The deploy guide's Go example compiles as printed (examples/go/deploy-guide, only
// the import path is this module's) and runs: on the embedded runtime it reaches
// the deploy, which needs a container engine for an image; this machine has none,
// so the example prints the error naming the source and exits 1 — as the guide's
// error branch does. A machine with podman or docker prints the app's URL.
func TestTheDeployGuidesGoExample(t *testing.T) {
	if _, err := exec.LookPath("podman"); err == nil {
		t.Skip("podman is present: the guide's image would really be pulled")
	}
	if exec.Command("docker", "info").Run() == nil {
		t.Skip("docker is present: the guide's image would really be pulled")
	}
	text, code := goExample(t, "deploy-guide")
	if code != 1 {
		t.Fatalf("want exit 1, got %d:\n%s", code, text)
	}
	if !contains(text, "failed_precondition") || !contains(text, "container engine") {
		t.Fatalf("want the missing container engine, got:\n%s", text)
	}
}
