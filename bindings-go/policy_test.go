package heroa_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heroa/heroa-sdk/bindings-go"
)

// Policies.Precheck gives the runtime's own decision locally, on both transports:
// the envelope in force bound to the agent and the registered skills, so a check
// names only the skill; the same calls run for real are executed or blocked alike.
func TestPrecheckAgreesWithTheRuntime(t *testing.T) {
	onBoth(t, func(t *testing.T, c *heroa.Client) {
		ctx := context.Background()
		a, err := c.Agents.Register(ctx, heroa.RegisterAgent{Name: "prechecked", Region: "eu-west"})
		if err != nil {
			t.Fatal(err)
		}
		if e, err := c.Policies.Precheck(ctx, a.ID); e != nil || err != nil {
			t.Fatalf("no envelope yet: %v %v", e, err)
		}
		_, err = c.Policies.Create(ctx, a.ID, `permit(principal, action == Action::"skill:invoke", resource)
		  when { resource.name in ["heroa:echo", "heroa:sleep"] && context.run_cost_usd < 0.50 };`)
		if err != nil {
			t.Fatal(err)
		}
		engine, err := c.Policies.Precheck(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer engine.Close()
		if got := engine.Agent(); got == nil || got.ID != a.ID || got.Region != "eu-west" || got.Promotion != "L0_shadow" {
			t.Fatalf("bound agent: %+v", got)
		}
		for _, tc := range []struct {
			skill string
			spent float64
			want  bool
		}{{"heroa:echo", 0, true}, {"heroa:sleep", 0.49, true}, {"heroa:echo", 0.5, false}, {"heroa:deploy", 0, false}} {
			req := heroa.CheckRequest{Skill: heroa.CheckSkill{Name: tc.skill}, RunCostUSD: tc.spent}
			ok, err := engine.Allows(req)
			if err != nil || ok != tc.want {
				t.Fatalf("%s at $%v: %v %v", tc.skill, tc.spent, ok, err)
			}
			d, err := engine.Check(req)
			if err != nil || d.Allowed != tc.want || d.Skill != tc.skill || (tc.want && len(d.Reasons) != 1) {
				t.Fatalf("%s: %+v %v", tc.skill, d, err)
			}
		}
		// Concurrent checks on one engine (its reused request is taken by one at a
		// time; the others build their own) answer each its own question.
		var wg sync.WaitGroup
		failed := make(chan string, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 500 {
					spent := float64((g+i)%2) * 0.6 // 0 or 0.6: allowed, then over the ceiling
					ok, err := engine.Allows(heroa.CheckRequest{Skill: heroa.CheckSkill{Name: "heroa:echo"}, RunCostUSD: spent})
					if err != nil || ok != (spent == 0) {
						failed <- fmt.Sprintf("goroutine %d check %d: %v %v", g, i, ok, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		close(failed)
		for f := range failed {
			t.Fatal(f)
		}

		_, err = engine.Allows(heroa.CheckRequest{Skill: heroa.CheckSkill{Name: "crm:nope"}})
		var herr *heroa.Error
		if !errors.As(err, &herr) || herr.Field != "skill.kind" {
			t.Fatalf("an unregistered skill without its kind: %v", err)
		}
		_, err = engine.Allows(heroa.CheckRequest{Skill: heroa.CheckSkill{Name: "crm:nope", Kind: "delete"}})
		if !errors.As(err, &herr) || herr.Field != "skill.kind" {
			t.Fatalf("a bad kind: %v", err)
		}
		if ok, err := engine.Allows(heroa.CheckRequest{Skill: heroa.CheckSkill{Name: "crm:nope", Kind: "read"}}); ok || err != nil {
			t.Fatalf("an unlisted skill: %v %v", ok, err)
		}

		// The runtime decides the same calls alike.
		_, err = c.Agents.SetPromotion(ctx, a.ID, "L3_autonomous")
		if err != nil {
			t.Fatal(err)
		}
		started, err := c.Agents.Run(ctx, a.ID, map[string]any{"calls": []any{
			map[string]any{"skill": "heroa:echo", "args": map[string]any{}},
			map[string]any{"skill": "heroa:deploy", "args": map[string]any{}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		run, err := c.Runs.Wait(ctx, started.ID, 20*time.Second)
		if err != nil || run.ActionsExecuted != 1 || run.ActionsBlocked != 1 {
			t.Fatalf("the runtime: %+v %v", run, err)
		}

		if _, err := c.Policies.Precheck(ctx, "ag_00000000000000000000000000"); !errors.Is(err, heroa.ErrNotFound) {
			t.Fatalf("unknown agent: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := c.Policies.Precheck(cctx, a.ID); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled: %v", err)
		}
	})
}
