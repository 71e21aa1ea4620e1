package daemon

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// LogFlags are the logging flags every Stria process takes.
type LogFlags struct {
	// Level is debug, info, warn or error.
	Level string
	// Format is json (zap's production encoding) or console.
	Format string
	// File, if set, receives the log (appended) instead of stderr.
	File string
}

// Register adds --log-level, --log-format and --log-file to fs.
func (f *LogFlags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Level, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&f.Format, "log-format", "json", "log encoding: json or console")
	fs.StringVar(&f.File, "log-file", "", "append the log to this file instead of stderr")
}

// Logger builds the process's logger, writing to f.File or else stderr.
// The returned function flushes and closes what Logger opened.
func (f LogFlags) Logger(stderr io.Writer) (*zap.Logger, func(), error) {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(f.Level)); err != nil {
		return nil, nil, fmt.Errorf("%w: --log-level %q: want debug, info, warn or error", ErrBadLog, f.Level)
	}
	var enc zapcore.Encoder
	switch f.Format {
	case "json", "":
		ec := zap.NewProductionEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(ec)
	case "console":
		ec := zap.NewDevelopmentEncoderConfig()
		ec.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewConsoleEncoder(ec)
	default:
		return nil, nil, fmt.Errorf("%w: --log-format %q: want json or console", ErrBadLog, f.Format)
	}
	w := zapcore.AddSync(stderr)
	closeFile := func() {}
	if f.File != "" {
		fh, err := os.OpenFile(f.File, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: --log-file: %w", ErrBadLog, err)
		}
		w = zapcore.Lock(fh)
		closeFile = func() { _ = fh.Close() }
	}
	log := zap.New(zapcore.NewCore(enc, w, lvl), zap.ErrorOutput(zapcore.AddSync(stderr)))
	return log, func() {
		_ = log.Sync()
		closeFile()
	}, nil
}
