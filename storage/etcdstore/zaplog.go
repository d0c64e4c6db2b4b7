package etcdstore

import (
	"slices"

	"github.com/rs/zerolog"
	"go.uber.org/zap/zapcore"
)

// zapCore hands the etcd client's log (zap) to the store's zerolog
// logger: its warnings and errors only (a retry, a member unreachable),
// as the client logs by default, so that they reach the agent's log and
// not a second stream on stderr.
type zapCore struct {
	log    zerolog.Logger
	fields []zapcore.Field
}

func (c zapCore) Enabled(l zapcore.Level) bool { return l >= zapcore.WarnLevel }

func (c zapCore) With(fields []zapcore.Field) zapcore.Core {
	return zapCore{log: c.log, fields: append(slices.Clip(c.fields), fields...)}
}

func (c zapCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c zapCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	ev := c.log.Warn()
	if e.Level >= zapcore.ErrorLevel {
		ev = c.log.Error()
	}
	if ev == nil {
		return nil
	}
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.fields {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	ev.Fields(enc.Fields).Msg("etcd client: " + e.Message)
	return nil
}

func (c zapCore) Sync() error { return nil }
