package actnet_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEAppActorIsTheExample: the README's app actor is the whole of
// examples/stream/app.go, which `make examples` builds and runs and
// TestTapAppActorStreams runs against Linux, so the README shows code that
// compiles and works.
func TestREADMEAppActorIsTheExample(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	app, err := os.ReadFile("examples/stream/app.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "```go\n"+string(app)+"```\n") {
		t.Fatal("README.md does not show examples/stream/app.go verbatim in a ```go block; copy the file into the section \"An app actor\"")
	}
}
