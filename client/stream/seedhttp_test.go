package stream

import (
	"testing"

	"github.com/peertune/peertune/client/policy"
	"github.com/peertune/peertune/proto"
)

// Each fetch tells the seed server how soon it is needed.
func TestFetchMark(t *testing.T) {
	for _, c := range []struct {
		fetch policy.StartFetch
		want  string
	}{
		{policy.StartFetch{Kind: policy.KindHead}, proto.FetchHead},
		{policy.StartFetch{Kind: policy.KindEmergency, Unheld: true}, proto.FetchUnheld},
		{policy.StartFetch{Kind: policy.KindEmergency}, proto.FetchUrgent},
		{policy.StartFetch{Kind: policy.KindFill}, proto.FetchFill},
	} {
		if got := fetchMark(c.fetch); got != c.want {
			t.Errorf("%+v: marked %q, want %q", c.fetch, got, c.want)
		}
	}
}
