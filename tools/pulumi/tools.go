//go:build tools

// Package tools pins the Pulumi CLI that our
// end-to-end tests and demo build from the Go module proxy.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
