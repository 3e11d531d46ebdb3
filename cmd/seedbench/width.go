package main

import (
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/seedbench/seedbench/internal/report"
)

// termWidth is the width text output is laid out for: $COLUMNS when set, else the terminal's when w
// is one, else report.DefaultWidth.
func termWidth(w io.Writer) int {
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	if f, ok := w.(*os.File); ok {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
			return int(ws.Col)
		}
	}
	return report.DefaultWidth
}
