package report

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/seedbench/seedbench/drivers"
)

// DriverRow is one line of `seedbench drivers`.
type DriverRow struct {
	drivers.Info
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why not, with the fix
}

// DriversDoc is the driver catalogue as a report: a table of each driver's availability, backing,
// capabilities and snapshotter, then, for each driver that cannot run here, why and the fix.
func DriversDoc(rows []DriverRow) *Doc {
	t := &Table{Header: []string{"driver", "available", "backing", "capabilities", "snapshotter"}, Key: 1, Left: 5}
	s := &Section{Table: t}
	for _, r := range rows {
		avail := "yes"
		if !r.Available {
			avail = "no [" + strconv.Itoa(len(s.Notes)+1) + "]"
			reason := r.Reason
			if !strings.HasPrefix(reason, r.Name+": ") {
				reason = r.Name + ": " + reason
			}
			s.Notes = append(s.Notes, Note{Ref: len(s.Notes) + 1, Text: reason})
		}
		// The snapshotter's package, short: containerd's plugins by their last element.
		sn := strings.TrimPrefix(r.Snapshotter, "github.com/")
		if p, ok := strings.CutPrefix(sn, "containerd/containerd/v2/plugins/snapshots/"); ok {
			sn = "containerd " + p
		}
		t.Rows = append(t.Rows, []string{r.Name, avail, r.Backing, caps(r.Capabilities), sn + " " + r.Version})
	}
	return &Doc{Sections: []*Section{s}}
}

// DriversMarkdown is the driver catalogue as README.md's table: name, snapshotter, default backing,
// description.
func DriversMarkdown(rows []DriverRow) string {
	var b strings.Builder
	b.WriteString("| driver | snapshotter | backing | what |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | `%s` | %s | %s |\n", r.Name, strings.TrimPrefix(r.Snapshotter, "github.com/"), r.Backing, strings.ReplaceAll(r.Description, "|", `\|`))
	}
	return b.String()
}

func caps(c drivers.Capabilities) string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{c.Overlay, "overlay"}, {c.FullCopy, "full-copy"}, {c.CopyOnWriteFS, "cow-fs"}, {c.Block, "block"},
		{c.FUSE, "fuse"}, {c.Remote, "remote"}, {c.Daemon, "daemon"}, {c.Proxy, "proxy"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}
