// The deploy guide's Go example ("production app with auto-provisioned TLS"), as
// printed — but for the import path: the guide's github.com/heroa/heroa-go is this
// repository's module, github.com/heroa/heroa-sdk/bindings-go (the package is
// `heroa` either way). Run by TestTheDeployGuidesGoExample.
package main

import (
    "context"
    "fmt"
    "os"

    "github.com/heroa/heroa-sdk/bindings-go"
)

func main() {
    ctx := context.Background()
    client := heroa.NewClient(os.Getenv("HEROA_API_KEY"))

    res, err := client.Deploy(ctx, heroa.DeployInput{
        Mode:         heroa.ModeApp,
        Region:       "us-east",
        ResourceTier: heroa.TierMedium,
        TTL:          "persistent",
        Source:       heroa.Source{Image: "ghcr.io/tenant/checkout-api:v1.2.3"},
        Policy: heroa.Policy{
            Egress:    "allow-list",
            AllowList: []string{"api.stripe.com"},
        },
    })
    if err != nil {
        fmt.Fprintln(os.Stderr, err)
        os.Exit(1)
    }
    fmt.Println(res.URL)
}
