package scenario

import (
	"bytes"
	"strings"
	"testing"
)

const pagedTrace = TraceHeader + `
open	/lib/a.so
read	/lib/a.so	0	832
map	/lib/a.so	0	40960
map	/lib/a.so	8192	8192
map	/lib/b.so	0	4096
pages	/lib/a.so	0	4096
pages	/lib/a.so	12288	8192
pages-ra	/lib/a.so	0	40960
`

// TestTracePagesRoundTrip: map entries come back as mapped reads, page ranges apart from the
// accesses, and the file writes back byte for byte.
func TestTracePagesRoundTrip(t *testing.T) {
	tr, err := ParseTrace("x.trace", strings.NewReader(pagedTrace))
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Entries) != 5 || len(tr.Pages) != 2 || len(tr.PagesRA) != 1 {
		t.Fatalf("entries %d pages %d pages-ra %d, want 5 2 1", len(tr.Entries), len(tr.Pages), len(tr.PagesRA))
	}
	if e := tr.Entries[2]; e.Op != TraceRead || !e.Mapped || tr.Entries[1].Mapped {
		t.Fatalf("map entry read as %+v, read entry as %+v", e, tr.Entries[1])
	}
	if got := PageBytes(tr.Pages); got != 12288 {
		t.Fatalf("PageBytes = %d, want 12288", got)
	}
	var buf bytes.Buffer
	if err := WriteTrace(&buf, tr); err != nil {
		t.Fatal(err)
	}
	if buf.String() != pagedTrace {
		t.Fatalf("written back:\n%s\nwant:\n%s", buf.String(), pagedTrace)
	}
}

// TestFaulted: a mapping of a file with page ranges reads only those pages, each once; the plain
// read and a mapping of a file without ranges are kept.
func TestFaulted(t *testing.T) {
	tr, err := ParseTrace("x.trace", strings.NewReader(pagedTrace))
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Faulted(tr.Entries)
	type rd struct {
		path     string
		off, len int64
	}
	var reads []rd
	for _, e := range got {
		if e.Op == TraceRead {
			reads = append(reads, rd{e.Path, e.Off, e.Len})
		}
	}
	want := []rd{{"/lib/a.so", 0, 832}, {"/lib/a.so", 0, 4096}, {"/lib/a.so", 12288, 8192}, {"/lib/b.so", 0, 4096}}
	if len(reads) != len(want) {
		t.Fatalf("reads %v, want %v", reads, want)
	}
	for i := range want {
		if reads[i] != want[i] {
			t.Fatalf("reads %v, want %v", reads, want)
		}
	}
}

// TestTracePagesOrder: an access after the page ranges is an error naming its line.
func TestTracePagesOrder(t *testing.T) {
	_, err := ParseTrace("x.trace", strings.NewReader(TraceHeader+"\npages\t/a\t0\t4096\nopen\t/a\n"))
	if err == nil || !strings.Contains(err.Error(), "x.trace:3") || !strings.Contains(err.Error(), "after the page ranges") {
		t.Fatalf("err = %v, want x.trace:3 … after the page ranges", err)
	}
}
