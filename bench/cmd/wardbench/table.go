package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/wardrt/ward/bench/workload"
)

// row is one line of the table: one workload on one implementation.
type row struct {
	group string // the workload, as the table shows it
	impl  string // the implementation, as the table shows it
	key   string // JSON metric name of the median
	unit  string
	lower bool // lower is better
	ref   bool // the ward row the group's ratios are taken against
	// noRatio: the row is not comparable with the ward row (a different N).
	noRatio bool

	vals []float64
	// skip says why the row has no figures: an expected gap (a peer that
	// cannot do the workload, a tool not installed). err is an unexpected
	// failure.
	skip string
	err  error
}

func (r *row) add(v float64) { r.vals = append(r.vals, v) }

func (r *row) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *row) measured() bool { return r.skip == "" && r.err == nil && len(r.vals) > 0 }

// results holds every row, in table order, and derived metrics.
type results struct {
	rows    []*row
	derived []derived
	notes   []string
}

// derived is a metric computed from others (a ratio), shown as a row.
type derived struct {
	group, impl, key, unit string
	s                      workload.Summary
}

func (rs *results) add(r *row) *row {
	rs.rows = append(rs.rows, r)
	return r
}

// note adds a line under the table, once however often it is added.
func (rs *results) note(format string, args ...any) {
	n := fmt.Sprintf(format, args...)
	if !slices.Contains(rs.notes, n) {
		rs.notes = append(rs.notes, n)
	}
}

// refOf returns the ward row of r's group.
func (rs *results) refOf(r *row) *row {
	for _, x := range rs.rows {
		if x.group == r.group && x.ref {
			return x
		}
	}
	return nil
}

// metrics returns the JSON object: metric name to median.
func (rs *results) metrics() map[string]float64 {
	m := map[string]float64{}
	for _, r := range rs.rows {
		if r.measured() {
			m[r.key] = workload.Summarize(r.vals).Median
		}
	}
	for _, d := range rs.derived {
		if !math.IsNaN(d.s.Median) {
			m[d.key] = d.s.Median
		}
	}
	return m
}

func (rs *results) errors() []string {
	var out []string
	for _, r := range rs.rows {
		if r.err != nil {
			out = append(out, fmt.Sprintf("%s, %s: %v", r.group, r.impl, r.err))
		}
	}
	return out
}

// writeTable prints the markdown table, then the notes.
func (rs *results) writeTable(w io.Writer) {
	fmt.Fprintln(w, "| workload | implementation | median | min-max | unit | ratio to ward |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | --- | ---: |")
	for i, r := range rs.rows {
		unit := r.unit + " ↑"
		if r.lower {
			unit = r.unit + " ↓"
		}
		switch {
		case r.skip != "":
			fmt.Fprintf(w, "| %s | %s | %s | | %s | |\n", r.group, r.impl, r.skip, unit)
		case r.err != nil:
			fmt.Fprintf(w, "| %s | %s | failed: %s | | %s | |\n", r.group, r.impl, oneLine(r.err.Error()), unit)
		case len(r.vals) == 0:
			fmt.Fprintf(w, "| %s | %s | not run | | %s | |\n", r.group, r.impl, unit)
		default:
			s := workload.Summarize(r.vals)
			ratio := ""
			if ref := rs.refOf(r); ref != nil && ref.measured() && !r.noRatio {
				ratio = fmtRatio(s.Median / workload.Summarize(ref.vals).Median)
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s–%s | %s | %s |\n",
				r.group, r.impl, fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max), unit, ratio)
		}
		// Derived rows follow the last row of their group.
		if i+1 == len(rs.rows) || rs.rows[i+1].group != r.group {
			for _, d := range rs.derived {
				if d.group == r.group && !math.IsNaN(d.s.Median) {
					fmt.Fprintf(w, "| %s | %s | %s | %s–%s | %s | |\n",
						d.group, d.impl, fmtNum(d.s.Median), fmtNum(d.s.Min), fmtNum(d.s.Max), d.unit)
				}
			}
		}
	}
	if len(rs.notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range rs.notes {
			fmt.Fprintln(w, "- "+n)
		}
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	s = strings.ReplaceAll(s, "|", "/")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// fmtNum prints about three significant digits, whole numbers with
// thousands separators.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case math.IsNaN(v):
		return "NaN"
	case a >= 1000:
		return thousands(int64(math.Round(v)))
	case a >= 100:
		return fmt.Sprintf("%.0f", v)
	case a >= 10:
		return fmt.Sprintf("%.1f", v)
	case a >= 1:
		return fmt.Sprintf("%.2f", v)
	default:
		return fmt.Sprintf("%.3f", v)
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtRatio(r float64) string {
	switch {
	case math.IsNaN(r) || math.IsInf(r, 0):
		return ""
	case r >= 100:
		return fmt.Sprintf("%.0fx", r)
	case r >= 10:
		return fmt.Sprintf("%.1fx", r)
	default:
		return fmt.Sprintf("%.2fx", r)
	}
}
