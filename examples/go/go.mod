// The Go examples: their own module, using the binding in this repository.
module github.com/heroa/heroa-sdk/examples/go

go 1.23

require github.com/heroa/heroa-sdk/bindings-go v0.0.0

replace github.com/heroa/heroa-sdk/bindings-go => ../../bindings-go
