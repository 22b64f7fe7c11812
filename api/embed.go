// Package api holds the OpenAPI document of the HighLevel V2 slice hlgate
// calls, embedded so the sandbox can derive its route table (scope and
// Version per operation) from the very document the client is generated from.
package api

import _ "embed"

// OpenAPI is the content of api/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte
