package pipeline

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
)

// panicked is a recovered panic. Its text is the panic value only when that
// is a runtime error, whose text never holds data; for any other value, only
// its type: a value built from a message could hold personal data.
type panicked struct {
	value string
	at    string // file:line that panicked
}

func (p *panicked) Error() string {
	if p.at == "" {
		return p.value
	}
	return p.value + " (at " + p.at + ")"
}

// recovered describes v, a value just recovered: call it from the deferred
// function that recovered it, so that the panicking frame is on the stack.
func recovered(v any) *panicked {
	p := &panicked{value: fmt.Sprintf("panic of type %T", v)}
	if err, ok := v.(runtime.Error); ok {
		p.value = err.Error()
	}
	pcs := make([]uintptr, 32)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	inPanic := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			inPanic = true
		case inPanic && !strings.HasPrefix(f.Function, "runtime."):
			p.at = filepath.Base(filepath.Dir(f.File)) + "/" + filepath.Base(f.File) + fmt.Sprintf(":%d", f.Line)
			return p
		}
		if !more {
			return p
		}
	}
}

// guard runs f, turning a panic into a *panicked error.
func guard(f func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = recovered(v)
		}
	}()
	return f()
}
