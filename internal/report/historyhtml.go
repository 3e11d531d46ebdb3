package report

import (
	"cmp"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/seedbench/seedbench/internal/gate"
)

// The history page is one static HTML file a nightly job publishes: for each machine, the runs,
// the verdicts (every change point, and the quantities' steps) as tables, and a chart per class of
// times — each run's level against run 1 with its interval, the noise band of each stretch between
// change points, the change points marked — drawn by the page's own inline script from its inline
// data. Nothing is fetched when it is viewed.

//go:embed history.html.tmpl
var historyHTML string

var historyTemplate = template.Must(template.New("history").Funcs(template.FuncMap{
	"inc":  func(i int) int { return i + 1 },
	"join": strings.Join,
	"short": func(commit string) string {
		if len(commit) > 12 {
			return commit[:12]
		}
		return commit
	},
}).Parse(historyHTML))

type htmlVerdict struct {
	Driver, Class, Ratio, P, Verdict, Basis, Chart string
	From                                           int
}

type htmlStep struct {
	Driver, Name, At, Values string
}

type htmlGroup struct {
	Fingerprint string
	Runs        []gate.HistoryRun
	Classes     []htmlClass
	Quantities  int
	Verdicts    []htmlVerdict
	Steps       []htmlStep
	// Charted is whether the group has the runs to chart (2 or more).
	Charted bool
}

// htmlClass is a class as the page's script draws it: the gate's series and the id of its chart.
type htmlClass struct {
	gate.ClassSeries
	Chart string `json:"chart"`
}

type htmlData struct {
	Groups []htmlDataGroup `json:"groups"`
}

type htmlDataGroup struct {
	Runs    []gate.HistoryRun `json:"runs"`
	Classes []htmlClass       `json:"classes"`
}

type htmlPage struct {
	Title, NoiseFrom, Method, Generated string
	Alpha, MinEffectPct                 float64
	Changes, Regressions                int
	Groups                              []htmlGroup
	Data                                htmlData
}

// HistoryCharts is how many charts h's page draws: a class of every group of 2 runs or more.
func HistoryCharts(h *gate.History) int {
	n := 0
	for _, g := range h.Groups {
		if len(g.Runs) >= 2 {
			n += len(g.Classes)
		}
	}
	return n
}

// HistoryHTML writes h as one self-contained HTML page. Charts come first for the classes that
// changed, the largest change first; the page's script marks the body with data-charts-drawn, the
// number of charts it drew (HistoryCharts).
func HistoryHTML(w io.Writer, h *gate.History) error {
	regs, changes := h.Changes()
	p := htmlPage{
		Title:        "history: " + h.Scenario,
		NoiseFrom:    h.NoiseFrom,
		Method:       h.Method,
		Generated:    time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Alpha:        h.Alpha,
		MinEffectPct: 100 * h.MinEffect,
		Changes:      changes,
		Regressions:  regs,
	}
	for gi, g := range h.Groups {
		hg := htmlGroup{Fingerprint: g.Fingerprint, Runs: g.Runs, Quantities: len(g.Quantities), Charted: len(g.Runs) >= 2}
		classes := make([]htmlClass, len(g.Classes))
		for i, c := range g.Classes {
			classes[i] = htmlClass{ClassSeries: c, Chart: fmt.Sprintf("chart-%d-%d", gi, i)}
		}
		biggest := func(c htmlClass) float64 {
			big := 0.0
			for _, cp := range c.Changes {
				big = max(big, math.Abs(math.Log(cp.Ratio)))
			}
			return big
		}
		slices.SortStableFunc(classes, func(a, b htmlClass) int { return cmp.Compare(biggest(b), biggest(a)) })
		hg.Classes = classes
		for _, c := range classes {
			for _, cp := range c.Changes {
				hg.Verdicts = append(hg.Verdicts, htmlVerdict{Driver: c.Driver, Class: c.Class, From: cp.At + 1, Ratio: ratioText(cp.Ratio),
					P: pText(cp.P), Verdict: string(cp.Verdict), Basis: c.Basis, Chart: c.Chart})
			}
		}
		for _, st := range quantitySteps(g) {
			hg.Steps = append(hg.Steps, htmlStep{Driver: st[0], Name: st[1], At: st[2], Values: st[3]})
		}
		p.Groups = append(p.Groups, hg)
		dg := htmlDataGroup{Runs: g.Runs}
		if hg.Charted {
			dg.Classes = classes
		}
		p.Data.Groups = append(p.Data.Groups, dg)
	}
	return historyTemplate.Execute(w, p)
}

// pText writes a p value with 2 significant digits; one that underflowed to 0 as below the
// smallest a float64's t distribution tells apart from 0.
func pText(p float64) string {
	if p == 0 {
		return "< 1e-15"
	}
	return fmt.Sprintf("%.2g", p)
}
