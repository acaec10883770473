package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gohere/gohere"
	"github.com/gohere/gohere/internal/auth"
	"github.com/gohere/gohere/internal/notify"
	"github.com/gohere/gohere/internal/store"
	"github.com/gohere/gohere/internal/train"
)

// TrainStore keeps the push trains (*store.DB).
type TrainStore interface {
	ActOnTrain(ctx context.Context, name string, now time.Time, act store.TrainAction) (train.Train, train.Event, error)
	Train(ctx context.Context, name string) (train.Train, error)
	ListTrains(ctx context.Context) ([]train.Train, error)
}

// DefaultCarSize is how many people deploy together when
// Options.TrainCarSize is zero.
const DefaultCarSize = 3

// The actions of POST /api/v1/trains/{name}/{action}, the train page's
// buttons and the slash command.
const (
	TrainJoin     = "join"
	TrainIn       = "in"
	TrainVerified = "verified"
	TrainLeave    = "leave"
	TrainRemove   = "remove"
	TrainStop     = "stop"
	TrainStart    = "start"
	TrainDeploy   = "deploy"
)

// TrainRequest is the body of POST /api/v1/trains/{name}/{action}: what
// the action needs besides its actor, who is the token's.
type TrainRequest struct {
	Reason   string          `json:"reason,omitempty"`    // stop
	Member   string          `json:"member,omitempty"`    // remove
	DeployID string          `json:"deploy_id,omitempty"` // deploy
	Changes  []gohere.Change `json:"changes,omitempty"`   // in: what the member ships (their author is the actor)
}

// TrainView is a train as the API shows it.
type TrainView struct {
	Train     string    `json:"train"`
	Stopped   bool      `json:"stopped"`
	Reason    string    `json:"reason"`
	StoppedBy string    `json:"stopped_by,omitempty"`
	StoppedAt time.Time `json:"stopped_at,omitzero"`
	Leader    string    `json:"leader"`
	Shipped   int       `json:"shipped"` // cars done
	Cars      []CarView `json:"cars"`
}

// CarView is one car of a TrainView.
type CarView struct {
	ID       int          `json:"id"`
	State    string       `json:"state"`
	Since    time.Time    `json:"since"`
	Leader   string       `json:"leader"`
	DeployID string       `json:"deploy_id,omitempty"`
	Members  []MemberView `json:"members"`
	// Changes are the members' changes: what the car's deploy ships.
	Changes []gohere.Change `json:"changes"`
}

// MemberView is one member of a CarView.
type MemberView struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

// TrainReply answers an action: the train after it and, as text, what
// changed (the channel message's words).
type TrainReply struct {
	TrainView
	Message string `json:"message"`
}

func viewTrain(t train.Train) TrainView {
	v := TrainView{Train: t.Name, Stopped: t.Stopped, Reason: t.Reason, StoppedBy: t.StoppedBy, StoppedAt: t.StoppedAt,
		Leader: t.Leader(), Shipped: t.Shipped, Cars: make([]CarView, len(t.Cars))}
	for i, c := range t.Cars {
		cv := CarView{ID: c.ID, State: string(c.State), Since: c.Since, Leader: c.Leader(), DeployID: c.DeployID,
			Members: make([]MemberView, len(c.Members)), Changes: []gohere.Change{}}
		for j, m := range c.Members {
			cv.Members[j] = MemberView{Name: m.Name, State: string(m.State), Since: m.Since}
			cv.Changes = append(cv.Changes, m.Changes...)
		}
		v.Cars[i] = cv
	}
	return v
}

func (s *Server) carSize() int {
	if s.opts.TrainCarSize > 0 {
		return s.opts.TrainCarSize
	}
	return DefaultCarSize
}

// actOnTrain applies one action of who to the named train, wherever it was
// asked (API, page, chat). arg is the action's reason, member or deploy
// id; changes are what an in ships.
func (s *Server) actOnTrain(ctx context.Context, name, action string, who train.Actor, arg string, changes []gohere.Change) (train.Train, train.Event, error) {
	var act store.TrainAction
	switch action {
	case TrainJoin:
		act = func(t *train.Train) (train.Event, error) { return t.Join(who, s.carSize(), time.Now()) }
	case TrainIn:
		act = func(t *train.Train) (train.Event, error) { return t.In(who, changes, time.Now()) }
	case TrainVerified:
		act = func(t *train.Train) (train.Event, error) { return t.Verified(who, time.Now()) }
	case TrainLeave:
		act = func(t *train.Train) (train.Event, error) { return t.Leave(who, time.Now()) }
	case TrainRemove:
		act = func(t *train.Train) (train.Event, error) { return t.Remove(who, strings.TrimSpace(arg), time.Now()) }
	case TrainStop:
		act = func(t *train.Train) (train.Event, error) { return t.Stop(who, arg, time.Now()) }
	case TrainStart:
		act = func(t *train.Train) (train.Event, error) { return t.Start(who, time.Now()) }
	case TrainDeploy:
		act = func(t *train.Train) (train.Event, error) { return t.Deploying(who, strings.TrimSpace(arg), time.Now()) }
	default:
		return train.Train{}, train.Event{}, gohere.Errorf(gohere.NotFound,
			"train action %q: want join, in, verified, leave, remove, stop, start or deploy", action)
	}
	t, ev, err := s.opts.Trains.ActOnTrain(ctx, name, time.Now(), act)
	if err != nil {
		return train.Train{}, train.Event{}, err
	}
	s.log.InfoContext(ctx, "train", "train", name, "action", action, "actor", who.Name, "event", ev.Kind)
	s.opts.OnTrainChanged()
	return t, ev, nil
}

// trainActor is who a token or session is on a train: people (human and
// admin roles) act as themselves; a ci token may only tie its deploy to
// the head car.
func trainActor(id auth.Identity, action string) (train.Actor, error) {
	human := id.Role.CanDecide()
	if !human && action != TrainDeploy {
		return train.Actor{}, gohere.Errorf(gohere.Forbidden, "%s (role %s) may not %s a train: people do, with a human or admin token", id.Name, id.Role, action)
	}
	return train.Actor{Name: id.Name, Human: human}, nil
}

func (s *Server) listTrains(c *gin.Context) {
	ts, err := s.opts.Trains.ListTrains(c.Request.Context())
	if err != nil {
		s.apiError(c, err)
		return
	}
	views := make([]TrainView, len(ts))
	for i, t := range ts {
		views[i] = viewTrain(t)
	}
	c.JSON(http.StatusOK, gin.H{"trains": views})
}

func (s *Server) getTrain(c *gin.Context) {
	t, err := s.opts.Trains.Train(c.Request.Context(), c.Param("name"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, viewTrain(t))
}

func (s *Server) trainAPI(c *gin.Context) {
	id, _ := identity(c)
	action := c.Param("action")
	var req TrainRequest
	if c.Request.ContentLength != 0 {
		if err := decodeJSON(c, &req); err != nil {
			s.apiError(c, err)
			return
		}
	}
	who, err := trainActor(id, action)
	if err != nil {
		s.apiError(c, err)
		return
	}
	arg := map[string]string{TrainStop: req.Reason, TrainRemove: req.Member, TrainDeploy: req.DeployID}[action]
	t, ev, err := s.actOnTrain(c.Request.Context(), c.Param("name"), action, who, arg, req.Changes)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, TrainReply{TrainView: viewTrain(t), Message: notify.TrainSlack(ev, nil).Text})
}

// trainPage is /train: every train, and buttons for the signed-in person.
type trainPage struct {
	chrome
	Title  string
	Trains []trainPageTrain
	Now    time.Time
}

type trainPageTrain struct {
	TrainView
	Me     string // the viewer's name, "" when nobody is signed in
	Aboard bool   // the viewer is in this train
	// CanIn and CanVerify: the viewer is in the head car, which waits for
	// them to say so.
	CanIn, CanVerify bool
}

// Elapsed reads how long ago t was: "12m 5s".
func (p *trainPage) Elapsed(t time.Time) string { return elapsed(p.Now, t) }

// elapsed is how long ago t was, to the second; "" for no time.
func elapsed(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return now.Sub(t).Round(time.Second).String()
}

func (s *Server) trainPageHandler(c *gin.Context) {
	ts, err := s.opts.Trains.ListTrains(c.Request.Context())
	if err != nil {
		s.pageError(c, err)
		return
	}
	p := trainPage{Title: "Push trains", Now: time.Now()}
	me, signedIn := s.viewer(c)
	for _, t := range ts {
		pt := trainPageTrain{TrainView: viewTrain(t)}
		if signedIn {
			pt.Me = me.Name
			ci, mi, ok := t.Find(me.Name)
			pt.Aboard = ok
			if ok && ci == 0 && !t.Stopped {
				car, m := t.Cars[0], t.Cars[0].Members[mi]
				pt.CanIn = (car.State == train.Boarding || car.State == train.Pushing) && m.State == train.Waiting
				pt.CanVerify = car.State == train.Verifying && m.State == train.In
			}
		}
		p.Trains = append(p.Trains, pt)
	}
	s.render(c, http.StatusOK, "train.html", &p)
}

// trainForm takes a button of the train page from a signed-in person and
// goes back to the page (post/redirect/get).
func (s *Server) trainForm(c *gin.Context) {
	back := "/train"
	if err := s.checkForm(c); err != nil {
		s.formError(c, err, back)
		return
	}
	id, ok := s.viewer(c)
	if !ok {
		s.formError(c, gohere.Errorf(gohere.Unauthorized, "sign in with a human token to act on a train"), back)
		return
	}
	name, action := c.PostForm("train"), c.Param("action")
	who, err := trainActor(id, action)
	if err == nil {
		arg := map[string]string{TrainStop: c.PostForm("reason"), TrainRemove: c.PostForm("member")}[action]
		_, _, err = s.actOnTrain(c.Request.Context(), name, action, who, arg, nil)
	}
	if err != nil {
		s.formError(c, err, back)
		return
	}
	c.Redirect(http.StatusSeeOther, back+"#train-"+url.PathEscape(name))
}
