// The onboarding guide's flow in Go, on the embedded runtime (no account needed):
// register an agent, bind a credential to the vault, put the agent under a policy
// envelope, run it in shadow mode, promote it, run it for real, verify its audit
// chain, then set a schedule and a completion webhook — received and verified on a
// loopback server here.
//
//	bash bindings-go/build.sh                  # once: the Rust library
//	cd examples/go && go run ./onboarding
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/heroa/heroa-sdk/bindings-go"
)

func main() {
	ctx := context.Background()
	client, err := heroa.Embedded("") // in memory; heroa.FromEnv() for HEROA_DATA or a remote control plane
	check(err)
	defer client.Close()

	// The guide's skill, written in Go: it reads its token from the vault while it runs.
	check(client.RegisterSkill("hubspot:contact:read", heroa.Read, func(ctx context.Context, call *heroa.SkillCall) (any, error) {
		token, err := call.Secret("hubspot_token")
		if err != nil {
			return nil, err
		}
		var args struct {
			ListID string `json:"hubspot_list_id"`
		}
		_ = json.Unmarshal(call.Args, &args)
		return map[string]any{"list": args.ListID, "contacts": 3, "token_chars": len(token)}, nil
	}, heroa.SkillOptions{CostUSD: "0.01", External: true, Description: "Reads a HubSpot list."}))

	// Step 1 — register the agent's identity; step 2 — its region, fixed for life.
	agent, err := client.Agents.Register(ctx, heroa.RegisterAgent{
		Name:        "lead-research-v1",
		Description: "Enriches CRM leads with firmographic data. Runs nightly.",
		Runtime:     "r1",
		Region:      "us-east",
	})
	check(err)
	fmt.Printf("step 1  agent registered: %s (%s)\n", agent.ID, agent.Name)
	fmt.Printf("step 2  region: %s\n", agent.Region)

	// Step 3 — bind the credential to the vault.
	entry, err := client.Vault.Put(ctx, heroa.VaultPut{
		AgentID:     agent.ID,
		Key:         "hubspot_token",
		Value:       "pat-na1-from-your-secrets-manager",
		Description: "HubSpot private-app token for lead-research agent",
	})
	check(err)
	fmt.Printf("step 3  vault entry %s v%d, fingerprint %s…\n", entry.Key, entry.Version, entry.Fingerprint[:12])

	// Step 4 — the policy envelope: an allow-list of skills and a spend ceiling.
	_, err = client.Policies.Create(ctx, agent.ID, `
    permit(principal, action == Action::"skill:invoke", resource)
    when {
      resource.name in ["hubspot:contact:read", "hubspot:contact:enrich"]
      && context.run_cost_usd < 0.50
    };`)
	check(err)
	fmt.Println("step 4  policy envelope in force")

	// Steps 5 and 6 — a shadow run (nothing happens in the real world), then live.
	input := map[string]any{"calls": []any{
		map[string]any{"skill": "hubspot:contact:read", "args": map[string]any{"hubspot_list_id": "hs-list-007"}},
		map[string]any{"skill": "heroa:echo", "args": map[string]any{"outside": "the envelope"}},
	}}
	_, err = client.Agents.SetPromotion(ctx, agent.ID, "L0_shadow")
	check(err)
	shadow := runAndWait(ctx, client, agent.ID, input)
	fmt.Printf("step 5  L0 shadow run: %s — %d shadowed, %d executed, %d blocked\n",
		shadow.Status, shadow.ActionsShadowed, shadow.ActionsExecuted, shadow.ActionsBlocked)
	_, err = client.Agents.SetPromotion(ctx, agent.ID, "L3_autonomous")
	check(err)
	live := runAndWait(ctx, client, agent.ID, input)
	fmt.Printf("step 6  L3 run: %s, cost $%s, %d executed, %d blocked\n",
		live.Status, live.CostUSD, live.ActionsExecuted, live.ActionsBlocked)
	verified, err := client.Runs.VerifyAudit(ctx, live.ID)
	check(err)
	fmt.Printf("        audit chain: %d events, valid = %v\n", verified.Events, verified.Valid)

	// Step 7 — a schedule and a signed completion webhook, received here.
	secret := heroa.GenerateWebhookSecret()
	received := make(chan string, 1)
	url := receiver(secret, received)
	_, err = client.Agents.Update(ctx, agent.ID, heroa.UpdateAgent{
		Schedule: "0 3 * * *",
		Webhook:  &heroa.Webhook{URL: url, SigningSecret: secret},
	})
	check(err)
	agent, err = client.Agents.Get(ctx, agent.ID)
	check(err)
	fmt.Printf("step 7  scheduled %s (next %s), webhook %s\n", *agent.Schedule, *agent.NextRunAt, agent.Webhook.URL)
	runAndWait(ctx, client, agent.ID, input)
	select {
	case got := <-received:
		fmt.Printf("        webhook received and verified: %s\n", got)
	case <-time.After(30 * time.Second):
		log.Fatal("no webhook delivery within 30 s")
	}
}

func runAndWait(ctx context.Context, client *heroa.Client, agentID string, input any) *heroa.Run {
	started, err := client.Agents.Run(ctx, agentID, input)
	check(err)
	run, err := client.Runs.Wait(ctx, started.ID, 2*time.Minute)
	check(err)
	return run
}

// receiver serves the completion webhook on a loopback port: it verifies each
// delivery's signature before reading it.
func receiver(secret string, received chan<- string) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := heroa.VerifyWebhook(r.Header, body, []string{secret}, heroa.VerifyOptions{}); err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var event heroa.RunCompletedWebhook
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "not a run.completed event", http.StatusBadRequest)
			return
		}
		select {
		case received <- fmt.Sprintf("%s, run %s %s", event.Type, event.Run.ID, event.Run.Status):
		default:
		}
	}))
	return "http://" + l.Addr().String() + "/heroa-events"
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
