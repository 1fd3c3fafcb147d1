module github.com/heroa/heroa-sdk/bindings-go/bench

go 1.26.0

require (
	github.com/cedar-policy/cedar-go v1.9.2
	github.com/heroa/heroa-sdk/bindings-go v0.0.0
	github.com/standard-webhooks/standard-webhooks/libraries v1.3.0
	github.com/tmaxmax/go-sse v0.12.0
)

require (
	github.com/go-json-experiment/json v1.27.2 // indirect
	golang.org/x/exp v0.0.0-20220921023135-46d9e7742f1e // indirect
)

replace github.com/heroa/heroa-sdk/bindings-go => ../
