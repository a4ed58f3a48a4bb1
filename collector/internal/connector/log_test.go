package connector

import (
	"bytes"
	"sync"

	"go.uber.org/zap/zapcore"
)

// logBuffer is a zap core's output kept in memory, for tests that read
// what was logged.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) Sync() error { return nil }

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

// observer is a JSON core writing everything at or above lvl to a buffer.
func observer(lvl zapcore.Level) (zapcore.Core, *logBuffer) {
	buf := &logBuffer{}
	enc := zapcore.NewJSONEncoder(zapcore.EncoderConfig{MessageKey: "msg", LevelKey: "level", EncodeLevel: zapcore.LowercaseLevelEncoder})
	return zapcore.NewCore(enc, buf, lvl), buf
}
