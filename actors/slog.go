package actors

import (
	"context"
	"log/slog"

	"github.com/rs/zerolog"
)

// slogToZerolog routes protoactor's slog records into the stack's zerolog
// logger, so a stack has one log stream with one level setting.
type slogToZerolog struct {
	log   zerolog.Logger
	attrs []slog.Attr
	group string
}

// NewSlogLogger returns an slog.Logger that writes through log.
func NewSlogLogger(log zerolog.Logger) *slog.Logger {
	return slog.New(&slogToZerolog{log: log})
}

// zerologLevel maps protoactor's levels one step down: its Info lines
// (system started, dead letters after a connection closed) are runtime
// internals, which belong at debug in the stack's log.
func zerologLevel(l slog.Level) zerolog.Level {
	switch {
	case l >= slog.LevelError:
		return zerolog.ErrorLevel
	case l >= slog.LevelWarn:
		return zerolog.WarnLevel
	default:
		return zerolog.DebugLevel
	}
}

func (h *slogToZerolog) Enabled(_ context.Context, l slog.Level) bool {
	return zerologLevel(l) >= h.log.GetLevel() && zerologLevel(l) >= zerolog.GlobalLevel()
}

func (h *slogToZerolog) Handle(_ context.Context, r slog.Record) error {
	e := h.log.WithLevel(zerologLevel(r.Level))
	add := func(a slog.Attr) bool {
		key := a.Key
		if h.group != "" {
			key = h.group + "." + key
		}
		e = e.Interface(key, a.Value.Resolve().Any())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	e.Msg(r.Message)
	return nil
}

func (h *slogToZerolog) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), attrs...)
	return &c
}

func (h *slogToZerolog) WithGroup(name string) slog.Handler {
	c := *h
	if c.group != "" {
		name = c.group + "." + name
	}
	c.group = name
	return &c
}
