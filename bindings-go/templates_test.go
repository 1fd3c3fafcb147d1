package heroa_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/heroa/heroa-sdk/bindings-go"
)

// Go functions as templates (run loops): every skill call goes through the agent's
// envelope; the loop's answer is the run's output; an error or a panic fails the
// run; a cancelled run cancels the loop's context; a RunContext kept past its loop
// cannot call.
func TestGoTemplates(t *testing.T) {
	ctx := context.Background()
	c, err := heroa.Embedded("")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.RegisterSkill("crm:lookup", heroa.Read, func(_ context.Context, call *heroa.SkillCall) (any, error) {
		var args struct{ Email string }
		_ = json.Unmarshal(call.Args, &args)
		return map[string]any{"email": args.Email, "score": 7}, nil
	}, heroa.SkillOptions{CostUSD: "0.01"}))
	must(c.RegisterSkill("crm:update", heroa.Write, func(context.Context, *heroa.SkillCall) (any, error) {
		t.Error("a forbidden skill ran")
		return nil, nil
	}))
	var kept *heroa.RunContext
	must(c.RegisterTemplate("triage", func(ctx context.Context, run *heroa.RunContext) (any, error) {
		kept = run
		var in struct{ Email string }
		if err := json.Unmarshal(run.Input, &in); err != nil {
			return nil, err
		}
		looked, err := run.Call(ctx, "crm:lookup", map[string]any{"email": in.Email})
		if err != nil {
			return nil, err
		}
		updated, err := run.Call(ctx, "crm:update", nil)
		if err != nil {
			return nil, err
		}
		missing, err := run.Call(ctx, "crm:nope", nil)
		if err != nil {
			return nil, err
		}
		return map[string]any{
			"lookup": looked, "update": updated, "missing": missing,
			"cost": run.CostUSD(), "run": run.RunID, "agent": run.AgentID,
		}, nil
	}, heroa.TemplateOptions{Description: "Looks a lead up, then tries to update it."}))
	must(c.RegisterTemplate("broken", func(context.Context, *heroa.RunContext) (any, error) {
		return nil, errors.New("the loop gave up")
	}))
	must(c.RegisterTemplate("panics", func(context.Context, *heroa.RunContext) (any, error) {
		panic("loop bug")
	}))
	cancelled := make(chan struct{})
	must(c.RegisterTemplate("waits", func(ctx context.Context, run *heroa.RunContext) (any, error) {
		<-ctx.Done()
		close(cancelled)
		return nil, ctx.Err()
	}))

	templates, err := c.Workspace.Templates(ctx)
	must(err)
	var names []string
	for _, tpl := range templates {
		names = append(names, tpl.Name)
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "triage") || !strings.Contains(got, "waits") {
		t.Fatalf("templates listed: %s", got)
	}

	a, err := c.Agents.Register(ctx, heroa.RegisterAgent{Name: "triage", Region: "us-east", Template: "triage"})
	must(err)
	_, err = c.Policies.Create(ctx, a.ID, `permit(principal, action == Action::"skill:invoke", resource) when { resource.name == "crm:lookup" };`)
	must(err)
	_, err = c.Agents.SetPromotion(ctx, a.ID, "L3_autonomous")
	must(err)
	started, err := c.Agents.Run(ctx, a.ID, map[string]any{"email": "ada@example.com"})
	must(err)
	run, err := c.Runs.Wait(ctx, started.ID, 20*time.Second)
	must(err)
	// One call ran and others were blocked: the run says so.
	if run.Status != "partial" {
		t.Fatalf("run: %s %v", run.Status, run.Error)
	}
	var out struct {
		Lookup, Update, Missing heroa.SkillOutcome
		Cost, Run, Agent        string
	}
	must(json.Unmarshal(run.Output, &out))
	if !out.Lookup.Executed() || string(out.Lookup.Output) != `{"email":"ada@example.com","score":7}` {
		t.Fatalf("lookup: %+v", out.Lookup)
	}
	if out.Update.Outcome != "blocked" || out.Update.Reason == "" {
		t.Fatalf("update: %+v", out.Update)
	}
	if out.Missing.Outcome != "blocked" && out.Missing.Outcome != "failed" {
		t.Fatalf("missing: %+v", out.Missing)
	}
	if out.Cost != "0.01" || out.Run != run.ID || out.Agent != a.ID || run.CostUSD != "0.01" {
		t.Fatalf("cost/ids: %+v, run cost %s", out, run.CostUSD)
	}
	if run.ActionsExecuted != 1 || run.ActionsBlocked < 1 {
		t.Fatalf("counts: executed %d blocked %d", run.ActionsExecuted, run.ActionsBlocked)
	}
	if _, err := kept.Call(ctx, "crm:lookup", nil); !errors.Is(err, heroa.ErrFailedPrecondition) {
		t.Fatalf("a kept RunContext called: %v", err)
	}

	for tpl, want := range map[string]string{"broken": "the loop gave up", "panics": "panic: loop bug"} {
		_, err := c.Agents.Update(ctx, a.ID, heroa.UpdateAgent{Template: tpl})
		must(err)
		started, err := c.Agents.Run(ctx, a.ID, nil)
		must(err)
		run, err := c.Runs.Wait(ctx, started.ID, 20*time.Second)
		must(err)
		if run.Status != "failed" || run.Error == nil || !strings.Contains(*run.Error, want) {
			t.Fatalf("%s: %s %v", tpl, run.Status, run.Error)
		}
	}

	_, err = c.Agents.Update(ctx, a.ID, heroa.UpdateAgent{Template: "waits"})
	must(err)
	started, err = c.Agents.Run(ctx, a.ID, nil)
	must(err)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := c.Runs.Get(ctx, started.ID)
		must(err)
		if r.Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the run never started: %s", r.Status)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = c.Runs.Cancel(ctx, started.ID)
	must(err)
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop's context was not cancelled with the run")
	}
	run, err = c.Runs.Wait(ctx, started.ID, 10*time.Second)
	must(err)
	if run.Status != "cancelled" {
		t.Fatalf("cancelled run: %s", run.Status)
	}

	if err := c.RegisterTemplate("nil", nil); !errors.Is(err, heroa.ErrInvalidArgument) {
		t.Fatalf("nil template: %v", err)
	}
	var herr *heroa.Error
	err = c.RegisterTemplate("not:a-name", func(context.Context, *heroa.RunContext) (any, error) { return nil, nil })
	if !errors.As(err, &herr) || herr.Field != "template" {
		t.Fatalf("bad name: %v", err)
	}
}
