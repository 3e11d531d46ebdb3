package metric

import (
	"fmt"
	"strings"
)

// MarkdownTable is the catalogue as README.md's metric table: one row per metric, in catalogue
// order.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| metric | unit | better | kind | params | what |\n|---|---|---|---|---|---|\n")
	for _, d := range Catalogue {
		kind := string(d.Kind)
		if d.Flushes {
			kind += ", flushes"
		}
		if d.Series {
			kind += ", series"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", d.ID, d.Unit, d.Better, kind,
			strings.Join(d.Params, ", "), strings.ReplaceAll(d.Doc, "|", `\|`))
	}
	return b.String()
}
