package report

import (
	"io"
	"strings"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"

	"github.com/seedbench/seedbench/drivers"
)

// DriverRow is one line of `seedbench drivers`.
type DriverRow struct {
	drivers.Info
	Available bool   `json:"available"`
	Reason    string `json:"reason,omitempty"` // why not, with the fix
}

// Drivers renders the driver catalogue: name, availability (or the reason and fix), snapshotter
// version, backing filesystem and capabilities.
func Drivers(w io.Writer, rows []DriverRow) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAutoWrap(tw.WrapNone),
		tablewriter.WithRowAutoWrap(tw.WrapNone))
	t.Header("driver", "available", "snapshotter", "backing", "capabilities", "description")
	for _, r := range rows {
		avail := "yes"
		if !r.Available {
			avail = "no: " + r.Reason
		}
		if err := t.Append(r.Name, avail, r.Snapshotter+" "+r.Version, r.Backing, caps(r.Capabilities), r.Description); err != nil {
			return err
		}
	}
	return t.Render()
}

func caps(c drivers.Capabilities) string {
	var out []string
	for _, x := range []struct {
		on   bool
		name string
	}{{c.Overlay, "overlay"}, {c.FullCopy, "full-copy"}, {c.CopyOnWriteFS, "cow-fs"}, {c.Block, "block"},
		{c.FUSE, "fuse"}, {c.Remote, "remote"}, {c.Daemon, "daemon"}} {
		if x.on {
			out = append(out, x.name)
		}
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}
