package heroa

/*
#include <stdlib.h>
#include "heroa.h"
*/
import "C"

import (
	"encoding/json"
	"net/http"
	"time"
	"unsafe"
)

// WebhookVerificationError is a delivery that failed verification. Reason is
// missing_header, malformed, expired, mismatch or invalid_secret; the message never
// quotes a secret.
type WebhookVerificationError struct {
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (e *WebhookVerificationError) Error() string { return "heroa: webhook: " + e.Message }

// VerifiedDelivery is what VerifyWebhook answers: the Scheme that matched
// (heroa-hmac-sha256 or standard-webhooks), the message id and timestamp (Standard
// Webhooks) and which of the secrets matched.
type VerifiedDelivery struct {
	Scheme      string  `json:"scheme"`
	MsgID       *string `json:"msg_id"`
	Timestamp   *int64  `json:"timestamp"`
	SecretIndex int     `json:"secret_index"`
}

// VerifyOptions tunes VerifyWebhook: Tolerance for the timestamp (0: five minutes),
// Now (zero: the clock), Scheme (auto, heroa-hmac-sha256 or standard-webhooks).
type VerifyOptions struct {
	Tolerance time.Duration
	Now       time.Time
	Scheme    string
}

// VerifyWebhook verifies a delivery you received — headers as received, body the
// exact raw bytes, any of secrets (a rotation) — with the core's constant-time
// verifier for both schemes. A failed delivery is a *WebhookVerificationError.
func VerifyWebhook(headers http.Header, body []byte, secrets []string, opts VerifyOptions) (*VerifiedDelivery, error) {
	flat := make(map[string]string, len(headers))
	for k, v := range headers {
		if len(v) > 0 {
			flat[k] = v[0]
		}
	}
	hj, _ := json.Marshal(flat)
	sj, _ := json.Marshal(secrets)
	tolerance := opts.Tolerance
	if tolerance == 0 {
		tolerance = 5 * time.Minute
	}
	now := int64(-1)
	if !opts.Now.IsZero() {
		now = opts.Now.Unix()
	}
	scheme := opts.Scheme
	if scheme == "" {
		scheme = "auto"
	}
	ch := C.CString(string(hj))
	defer C.free(unsafe.Pointer(ch))
	cs := C.CString(string(sj))
	defer C.free(unsafe.Pointer(cs))
	cscheme := C.CString(scheme)
	defer C.free(unsafe.Pointer(cscheme))
	var cbody *C.uint8_t
	if len(body) > 0 {
		cbody = (*C.uint8_t)(unsafe.Pointer(&body[0]))
	}
	var out *C.char
	errText := goString(C.heroa_webhook_verify(ch, cbody, C.size_t(len(body)), cs, C.double(tolerance.Seconds()), C.int64_t(now), cscheme, &out))
	if errText != nil {
		return nil, webhookError(*errText)
	}
	var v VerifiedDelivery
	if err := json.Unmarshal([]byte(*goString(out)), &v); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "a verification does not decode: " + err.Error()}
	}
	return &v, nil
}

// SignWebhook answers the headers that sign body with secret for both schemes, as
// message msgID ("" for a new id) at timestamp (zero for now).
func SignWebhook(secret string, body []byte, msgID string, timestamp time.Time) (map[string]string, error) {
	csecret := C.CString(secret)
	defer C.free(unsafe.Pointer(csecret))
	var cid *C.char
	if msgID != "" {
		cid = C.CString(msgID)
		defer C.free(unsafe.Pointer(cid))
	}
	ts := int64(-1)
	if !timestamp.IsZero() {
		ts = timestamp.Unix()
	}
	var cbody *C.uint8_t
	if len(body) > 0 {
		cbody = (*C.uint8_t)(unsafe.Pointer(&body[0]))
	}
	var out *C.char
	if errText := goString(C.heroa_webhook_sign(csecret, cbody, C.size_t(len(body)), cid, C.int64_t(ts), &out)); errText != nil {
		return nil, webhookError(*errText)
	}
	headers := map[string]string{}
	if err := json.Unmarshal([]byte(*goString(out)), &headers); err != nil {
		return nil, &Error{Kind: KindInternal, Message: "signed headers do not decode: " + err.Error()}
	}
	return headers, nil
}

// GenerateWebhookSecret answers a new signing secret (whsec_…).
func GenerateWebhookSecret() string { return *goString(C.heroa_webhook_generate_secret()) }

func webhookError(text string) error {
	var w struct {
		Kind    string `json:"kind"`
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(text), &w) == nil && w.Kind == "webhook" {
		return &WebhookVerificationError{Reason: w.Reason, Message: w.Message}
	}
	return parseError(text)
}
