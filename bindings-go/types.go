package heroa

import "encoding/json"

// Agent is a registered agent: a stable identity in one region.
type Agent struct {
	ID                    string       `json:"id"`
	Name                  string       `json:"name"`
	Description           *string      `json:"description"`
	Runtime               string       `json:"runtime"`
	Region                string       `json:"region"`
	Promotion             string       `json:"promotion"`
	Template              string       `json:"template"`
	ApprovalWindowSeconds int64        `json:"approval_window_seconds"`
	MaxSteps              int          `json:"max_steps"`
	Schedule              *string      `json:"schedule"`
	NextRunAt             *string      `json:"next_run_at"`
	Webhook               *WebhookInfo `json:"webhook"`
	ParentID              *string      `json:"parent_id"`
	DeploymentID          *string      `json:"deployment_id"`
	LLMConfigs            []LLMConfig  `json:"llm_configs"`
	SystemPrompt          *string      `json:"system_prompt"`
	Tools                 []ToolSpec   `json:"tools"`
	SecretScopes          []string     `json:"secret_scopes"` // nil: every key it can see
	CreatedAt             string       `json:"created_at"`
	UpdatedAt             string       `json:"updated_at"`
}

// WebhookInfo is an agent's completion webhook (its secret is never answered).
type WebhookInfo struct {
	URL                      string `json:"url"`
	SigningSecretFingerprint string `json:"signing_secret_fingerprint"`
}

// RegisterAgent is what Agents.Register takes (the onboarding guide's step 1).
type RegisterAgent struct {
	Name           string `json:"name"`
	Region         string `json:"region"`
	Description    string `json:"description,omitempty"`
	Runtime        string `json:"runtime,omitempty"`
	Template       string `json:"template,omitempty"`
	ApprovalWindow string `json:"approval_window,omitempty"`
	MaxSteps       int    `json:"max_steps,omitempty"`
	// The `llm` run loop: its models, system prompt and the skills it offers.
	LLMConfigs   []LLMConfig `json:"llm_configs,omitempty"`
	SystemPrompt string      `json:"system_prompt,omitempty"`
	Tools        []ToolSpec  `json:"tools,omitempty"`
}

// LLMConfig is a model of the `llm` run loop: Provider `openai` (any
// OpenAI-compatible endpoint; its key read from the vault, APIKeyVaultKey, default
// `openai_api_key`) or `offline` (scripted turns, for tests and demos).
type LLMConfig struct {
	Provider           string            `json:"provider"`
	Model              string            `json:"model"`
	Role               string            `json:"role,omitempty"`
	BaseURL            string            `json:"base_url,omitempty"`
	APIKeyVaultKey     string            `json:"api_key_vault_key,omitempty"`
	Script             string            `json:"script,omitempty"`
	Turns              []json.RawMessage `json:"turns,omitempty"`
	PromptUSDPer1K     string            `json:"prompt_usd_per_1k,omitempty"`
	CompletionUSDPer1K string            `json:"completion_usd_per_1k,omitempty"`
	Temperature        *float64          `json:"temperature,omitempty"`
}

// ToolSpec is a skill offered to the model by the `llm` run loop.
type ToolSpec struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	MaxCalls    int    `json:"max_calls,omitempty"`
	TTLSeconds  int    `json:"ttl_seconds,omitempty"`
}

// Webhook is a completion webhook to set on an agent.
type Webhook struct {
	URL           string `json:"url"`
	SigningSecret string `json:"signing_secret"`
}

// UpdateAgent is what Agents.Update takes; empty fields are left as they are.
type UpdateAgent struct {
	Description    string      `json:"description,omitempty"`
	Template       string      `json:"template,omitempty"`
	ApprovalWindow string      `json:"approval_window,omitempty"`
	Schedule       string      `json:"schedule,omitempty"`
	Webhook        *Webhook    `json:"webhook,omitempty"`
	RemoveWebhook  bool        `json:"remove_webhook,omitempty"`
	MaxSteps       int         `json:"max_steps,omitempty"`
	LLMConfigs     []LLMConfig `json:"llm_configs,omitempty"`
	SystemPrompt   string      `json:"system_prompt,omitempty"`
	Tools          []ToolSpec  `json:"tools,omitempty"`
}

// Run is a run of an agent. CostUSD is a decimal string of US dollars.
type Run struct {
	ID              string          `json:"id"`
	AgentID         string          `json:"agent_id"`
	Status          string          `json:"status"`
	Input           json.RawMessage `json:"input"`
	Output          json.RawMessage `json:"output"`
	Error           *string         `json:"error"`
	CostUSD         string          `json:"cost_usd"`
	Promotion       string          `json:"promotion"`
	Template        string          `json:"template"`
	ActionsExecuted int             `json:"actions_executed"`
	ActionsBlocked  int             `json:"actions_blocked"`
	ActionsShadowed int             `json:"actions_shadowed"`
	ActionsSkipped  int             `json:"actions_skipped"`
	AuditURL        string          `json:"audit_url"`
	CreatedAt       string          `json:"created_at"`
	StartedAt       *string         `json:"started_at"`
	FinishedAt      *string         `json:"finished_at"`
}

// Ended reports whether the run has reached a final status.
func (r *Run) Ended() bool {
	switch r.Status {
	case "complete", "partial", "blocked", "failed", "cancelled":
		return true
	}
	return false
}

// VaultPut is what Vault.Put takes (the onboarding guide's step 3).
type VaultPut struct {
	AgentID     string `json:"agent_id,omitempty"`
	Key         string `json:"key"`
	Value       string `json:"value"`
	Description string `json:"description,omitempty"`
	Scope       string `json:"scope,omitempty"`
}

// VaultEntry is a stored secret's metadata (the value is never answered).
type VaultEntry struct {
	ID          string  `json:"id"`
	Key         string  `json:"key"`
	Scope       string  `json:"scope"`
	AgentID     *string `json:"agent_id"`
	Description *string `json:"description"`
	Fingerprint string  `json:"fingerprint"`
	Version     int     `json:"version"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// PolicyVersion is a version of an agent's policy envelope: the Document as
// written, the Cedar text evaluated, and each rewrite between them.
type PolicyVersion struct {
	ID           string        `json:"id"`
	AgentID      string        `json:"agent_id"`
	Version      int           `json:"version"`
	Document     string        `json:"document"`
	Cedar        string        `json:"cedar"`
	Translations []Translation `json:"translations"`
	CreatedAt    string        `json:"created_at"`
}

// Translation is one rewrite of the envelope's dialect into Cedar, at Line and
// Column (1-based) of the document.
type Translation struct {
	Line       int    `json:"line"`
	Column     int    `json:"column"`
	Original   string `json:"original"`
	Translated string `json:"translated"`
	Rule       string `json:"rule"`
}

// Deploy modes.
const (
	ModeApp     = "app"
	ModeService = "service"
	ModeAgent   = "agent"
)

// Resource tiers.
const (
	TierSmall  = "small"
	TierMedium = "medium"
	TierLarge  = "large"
)

// Policy of a deployment (the deploy guide's `policy`): network egress
// ("allow-list", "none" or "open"), allow-listed hosts, and for sub-agents the
// skills and vault keys it may use.
type Policy struct {
	Egress       string   `json:"egress,omitempty"`
	AllowList    []string `json:"allow_list,omitempty"`
	Tools        []string `json:"tools,omitempty"`
	SecretScopes []string `json:"secret_scopes,omitempty"`
}

// Source of an app or a service: one of Image, Repo (+Ref), Tarball or Path, with
// an optional Command.
type Source struct {
	Image   string   `json:"image,omitempty"`
	Repo    string   `json:"repo,omitempty"`
	Ref     string   `json:"ref,omitempty"`
	Tarball string   `json:"tarball,omitempty"`
	Path    string   `json:"path,omitempty"`
	Command []string `json:"command,omitempty"`
}

// DeployInput is what Deploy takes (the deploy guide's parameters). A zero Policy
// or Source is left out.
type DeployInput struct {
	Mode           string `json:"mode"`
	Region         string `json:"region,omitempty"`
	ResourceTier   string `json:"resource_tier,omitempty"`
	TTL            string `json:"ttl,omitempty"`
	Policy         Policy `json:"policy"`
	Template       string `json:"template,omitempty"`
	Source         Source `json:"source"`
	Name           string `json:"name,omitempty"`
	IdempotencyKey string `json:"idempotency_key,omitempty"`
	ParentAgentID  string `json:"parent_agent_id,omitempty"`
	Public         bool   `json:"public,omitempty"`
	GPU            bool   `json:"gpu,omitempty"`
	HealthPath     string `json:"health_path,omitempty"`
}

// DeployOptions is another name for DeployInput.
type DeployOptions = DeployInput

// MarshalJSON leaves out a zero Policy or Source.
func (in DeployInput) MarshalJSON() ([]byte, error) {
	type plain DeployInput
	b, err := json.Marshal(plain(in))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	if in.Policy.Egress == "" && in.Policy.AllowList == nil && in.Policy.Tools == nil && in.Policy.SecretScopes == nil {
		delete(m, "policy")
	}
	if in.Source.Image == "" && in.Source.Repo == "" && in.Source.Tarball == "" && in.Source.Path == "" {
		delete(m, "source")
	}
	return json.Marshal(m)
}

// Deployment is an app, service or sub-agent stood up by Deploy: URL (app),
// Endpoint (service) or Handle (agent: the sub-agent's id) — "" when absent —,
// Mode, Region, ExpiresAt ("" for a persistent one).
type Deployment struct {
	ID           string  `json:"id"`
	URL          string  `json:"url"`
	HTTPURL      string  `json:"http_url"`
	Endpoint     string  `json:"endpoint"`
	Handle       string  `json:"handle"`
	Mode         string  `json:"mode"`
	Region       string  `json:"region"`
	ExpiresAt    string  `json:"expires_at"`
	Status       string  `json:"status"`
	Name         string  `json:"name"`
	ResourceTier string  `json:"resource_tier"`
	TTL          string  `json:"ttl"`
	Policy       Policy  `json:"policy"`
	Template     *string `json:"template"`
	// App/service: the source as given, restarts after a crash and the limits
	// applied to the process.
	Source        json.RawMessage `json:"source"`
	Restarts      int             `json:"restarts"`
	Limits        json.RawMessage `json:"limits"`
	ParentAgentID *string         `json:"parent_agent_id"`
	Error         *string         `json:"error"`
	CreatedAt     string          `json:"created_at"`
	UpdatedAt     string          `json:"updated_at"`
	client        *Client
}

// Page is one page of a list: Items and the cursor of the next page ("" at the end).
type Page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// ListOptions pages a list: Limit 1–1000 (default 100) and a page's NextCursor.
type ListOptions struct {
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// Event is one event of a run's stream: ID (the audit sequence number), Event
// (`message`, an audit event type, or `done`) and Data (JSON).
type Event struct {
	ID    int64           `json:"id"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

// Workspace is the workspace the client acts in.
type Workspace struct {
	ID             string  `json:"id"`
	Name           string  `json:"name"`
	Tier           string  `json:"tier"`
	SOC2AcceptedAt *string `json:"soc2_accepted_at"`
	CreatedAt      string  `json:"created_at"`
}

// InboxItem is a notification for people (a run that needs attention).
type InboxItem struct {
	ID        string `json:"id"`
	AgentID   string `json:"agent_id"`
	RunID     string `json:"run_id"`
	Message   string `json:"message"`
	CreatedAt string `json:"created_at"`
}

// SkillInfo is a skill the runtime offers.
type SkillInfo struct {
	Name        string  `json:"name"`
	Kind        string  `json:"kind"`
	External    bool    `json:"external"`
	CostUSD     string  `json:"cost_usd"`
	Description *string `json:"description"`
}

// TemplateInfo is a template (run loop) agents can name.
type TemplateInfo struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
}

// Approval is an L2 write waiting for (or past) a person's decision. Status is
// pending, approved, denied, expired or cancelled.
type Approval struct {
	ID          string          `json:"id"`
	RunID       string          `json:"run_id"`
	AgentID     string          `json:"agent_id"`
	Skill       string          `json:"skill"`
	Args        json.RawMessage `json:"args"`
	Status      string          `json:"status"`
	RequestedAt string          `json:"requested_at"`
	ExpiresAt   string          `json:"expires_at"`
	DecidedAt   *string         `json:"decided_at"`
	DecidedBy   *string         `json:"decided_by"`
}

// Delivery is a completion webhook's delivery (pending, delivered or failed) with
// every attempt.
type Delivery struct {
	ID            string            `json:"id"`
	AgentID       string            `json:"agent_id"`
	RunID         string            `json:"run_id"`
	URL           string            `json:"url"`
	Status        string            `json:"status"`
	Attempts      []DeliveryAttempt `json:"attempts"`
	NextAttemptAt *string           `json:"next_attempt_at"`
	RoundAttempts int               `json:"round_attempts"`
	CreatedAt     string            `json:"created_at"`
}

// DeliveryAttempt is one try of a delivery.
type DeliveryAttempt struct {
	At         string  `json:"at"`
	StatusCode *int    `json:"status_code"`
	Error      *string `json:"error"`
	DurationMS int64   `json:"duration_ms"`
}

// AuditRecord is (a page of) a run's hash-chained audit.
type AuditRecord struct {
	RunID      string       `json:"run_id"`
	AgentID    string       `json:"agent_id"`
	Events     []AuditEvent `json:"events"`
	HeadHash   string       `json:"head_hash"`
	NextCursor *string      `json:"next_cursor"`
}

// AuditEvent is one link of the chain.
type AuditEvent struct {
	Seq          int64           `json:"seq"`
	At           string          `json:"at"`
	Type         string          `json:"type"`
	Data         json.RawMessage `json:"data"`
	PrevHash     string          `json:"prev_hash"`
	Hash         string          `json:"hash"`
	ChainVersion int             `json:"chain_version,omitempty"`
}

// AuditVerification is the result of checking a run's chain.
type AuditVerification struct {
	RunID    string  `json:"run_id"`
	Valid    bool    `json:"valid"`
	Events   int64   `json:"events"`
	BrokenAt *int64  `json:"broken_at"`
	Reason   *string `json:"reason"`
}

// AgentListOptions pages a list, optionally only one agent's items.
type AgentListOptions struct {
	AgentID string `json:"agent_id,omitempty"`
	Limit   int    `json:"limit,omitempty"`
	Cursor  string `json:"cursor,omitempty"`
}

// ApprovalListOptions pages approvals, optionally only those with Status.
type ApprovalListOptions struct {
	Status string `json:"status,omitempty"`
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// RunCompletedWebhook is the body of a completion webhook (Type `run.completed`):
// decode it after VerifyWebhook accepted the delivery.
type RunCompletedWebhook struct {
	Type    string `json:"type"`
	AgentID string `json:"agent_id"`
	Run     Run    `json:"run"`
}
