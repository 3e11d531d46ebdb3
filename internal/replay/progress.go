package replay

// Status is one progress update: which driver (empty = all), which phase (open, build, containers,
// workload, verify, teardown), what within it, and how far.
type Status struct {
	Driver string
	Phase  string
	What   string
	Done   int
	Total  int
}

// Progress receives status updates while a replay runs; the CLI renders them on stderr.
type Progress interface {
	Update(Status)
}

type nopProgress struct{}

func (nopProgress) Update(Status) {}
