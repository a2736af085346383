// Command openai is the mycelium openai plugin: an OpenAI-style API on the
// mesh (serve role: offer a local model server to mesh peers; client role:
// one local endpoint for the mesh's models). The node starts it; see
// docs/ai.md.
package main

import (
	"github.com/mycelium-go/mycelium/adapters/openai"
	"github.com/mycelium-go/mycelium/plugins/sdk"
)

// version is set by the build (-ldflags -X main.version=...).
var version = "dev"

func main() { sdk.Serve(openai.New(version, sdk.NewLogger())) }
