//go:build tools

// Package tools pins the Pulumi CLI (the engine, v3.259.0) that our end-to-end tests and demo
// build from the Go module proxy; scripts/install-pulumi builds and caches it.
//
// The Node.js language host (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3,
// pseudo-versions only, e.g. v3.0.0-20260819165155-0ac56e876614) is not pinned here: the Go module
// proxy answers 403 "This module version is not available" for it and for its version list. Without
// it, Pulumi runs inline programs through the Automation API only.
package tools

import (
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
