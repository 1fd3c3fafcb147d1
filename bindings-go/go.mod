module github.com/heroa/heroa-sdk/bindings-go

go 1.23
