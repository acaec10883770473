package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gohere/gohere/internal/chattest"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/train"
)

func TestTrainSlack(t *testing.T) {
	h := notify.Handles{"alice": "U024BE7LH"}
	tests := []struct {
		name string
		ev   train.Event
		want []string // in the text, in order
	}{
		{"join", train.Event{Kind: train.EventJoined, Train: "checkout", Actor: "bob", Car: 2, Leader: "alice"},
			[]string{"*checkout train* bob joined car 2."}},
		{"all in", train.Event{Kind: train.EventIn, Train: "checkout", Actor: "bob", Car: 1, CarState: train.Staging, Moved: true, Leader: "alice"},
			[]string{"bob is in (car 1).", "Car 1 is all in: <@U024BE7LH>, deploy it to staging."}},
		{"on staging", train.Event{Kind: train.EventDeployed, Train: "checkout", Actor: "gohere", Car: 1, CarState: train.Verifying, Moved: true,
			Members: []string{"alice", "bob"}, DeployID: "d1", Status: "succeeded"},
			[]string{"car 1's deploy d1 succeeded.", "<@U024BE7LH> bob, verify your changes."}},
		{"stopped: user text is inert", train.Event{Kind: train.EventStopped, Train: "checkout", Actor: "bob", Reason: "<!channel> *down* <https://x|y>",
			Members: []string{"alice", "bob"}},
			[]string{"*stopped* by bob: &lt;!channel&gt;", "Nothing moves until a human starts it: <@U024BE7LH> bob"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := notify.TrainSlack(tt.ev, h).Text
			at := 0
			for _, w := range tt.want {
				i := strings.Index(got[at:], w)
				if i < 0 {
					t.Fatalf("text %q: want %q (after offset %d)", got, w, at)
				}
				at += i + len(w)
			}
			if strings.Contains(got, "<!channel>") || strings.Contains(got, "<https://x|y>") {
				t.Errorf("text %q: user text became a ping or a link", got)
			}
		})
	}
}

// TestTrainWorker: each change of a train reaches the chat once, in
// order, in both formats; a sweep moves an idle member with a message.
func TestTrainWorker(t *testing.T) {
	engines(t, func(t *testing.T, db *store.DB) {
		chat := chattest.New(t)
		w, err := notify.NewTrainWorker(notify.TrainOptions{Sweeper: db, Queue: db, Idle: time.Hour, CarSize: 3,
			Defaults: []notify.Destination{{URL: chat.URL + "/slack", Format: notify.FormatSlack}, {URL: chat.URL + "/generic", Format: notify.FormatGeneric}}})
		if err != nil {
			t.Fatal(err)
		}
		long := time.Now().Add(-2 * time.Hour) // joined long ago: idle
		for _, n := range []string{"alice", "bob"} {
			if _, _, err := db.ActOnTrain(t.Context(), "checkout", long, func(tr *train.Train) (train.Event, error) {
				return tr.Join(train.Actor{Name: n, Human: true}, 3, long)
			}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := db.ActOnTrain(t.Context(), "checkout", time.Now(), func(tr *train.Train) (train.Event, error) {
			return tr.In(train.Actor{Name: "alice", Human: true}, nil, time.Now())
		}); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			if _, err := w.Round(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
		var slack, generic []string
		for _, m := range chat.Messages() {
			if m.Path == "/slack" {
				slack = append(slack, m.Text())
				continue
			}
			var g struct{ Event string }
			if err := json.Unmarshal(m.Body, &g); err != nil {
				t.Fatal(err)
			}
			generic = append(generic, g.Event)
		}
		if want := "train.joined train.joined train.in train.idle"; strings.Join(generic, " ") != want {
			t.Errorf("generic events %v, want %s", generic, want)
		}
		if len(slack) != 4 || !strings.Contains(slack[3], "bob: no answer for 1h0m0s: moved to car 2") ||
			!strings.Contains(slack[3], "Car 1 is all in: alice, deploy it to staging.") {
			t.Errorf("slack messages:\n%s", strings.Join(slack, "\n"))
		}
	})
}
