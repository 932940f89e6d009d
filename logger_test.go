package actnet

import (
	"bytes"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// Log lines carry the time to the millisecond, as text and as JSON.
func TestLogTimestampsHaveMilliseconds(t *testing.T) {
	var text bytes.Buffer
	log := DefaultLogger(&text)
	log.Warn().Msg("hello")
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\S* WRN hello\n$`).Match(text.Bytes()) {
		t.Errorf("text line %q lacks a millisecond timestamp", text.String())
	}

	var js bytes.Buffer
	jl := zerolog.New(&js).Hook(TimestampHook{})
	jl.Info().Msg("hello")
	var ev map[string]any
	if err := json.Unmarshal(js.Bytes(), &ev); err != nil {
		t.Fatal(err)
	}
	stamp, _ := ev[zerolog.TimestampFieldName].(string)
	if _, err := time.Parse(LogTimeFormat, stamp); err != nil || !regexp.MustCompile(`\.\d{3}`).MatchString(stamp) {
		t.Errorf("JSON time %q: %v", stamp, err)
	}
}
