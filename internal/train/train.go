package train

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gohere/gohere"
)

// CarState is where a car is on its way to production.
type CarState string

// A car boards until its first member is in; it pushes until all are; the
// leader deploys it to staging; its members verify; the leader deploys it
// to production; then it is done and the next car leads.
const (
	Boarding  CarState = "boarding"
	Pushing   CarState = "pushing"
	Staging   CarState = "staging"
	Verifying CarState = "verifying"
	Prod      CarState = "prod"
	Done      CarState = "done"
)

// MemberState is what a member said last.
type MemberState string

const (
	Waiting  MemberState = "waiting"  // joined, code not pushed yet
	In       MemberState = "in"       // code pushed
	Verified MemberState = "verified" // checked it on staging
)

// Member is one person in a car.
type Member struct {
	Name     string      `json:"name"`
	State    MemberState `json:"state"`
	JoinedAt time.Time   `json:"joined_at"`
	// Since is when the member last answered (joined, in, verified): the
	// idle rule counts from it.
	Since time.Time `json:"since"`
	// Changes are what the member said in with, authored by them: the
	// changes of the car's deploy.
	Changes []gohere.Change `json:"changes,omitempty"`
}

// Car is a few people who deploy together.
type Car struct {
	// ID is 1, 2, … as cars are made, never reused in a train. It is
	// not the queue order: an idle member's new car is put right behind
	// the head car, ahead of older ones.
	ID      int       `json:"id"`
	State   CarState  `json:"state"`
	Since   time.Time `json:"since"` // when it entered State
	Members []Member  `json:"members"`
	// DeployID is the deploy of its current stage (staging or prod), once
	// the leader started it; its finish moves the car on.
	DeployID string `json:"deploy_id,omitempty"`
}

// Leader is the car's first member.
func (c Car) Leader() string {
	if len(c.Members) == 0 {
		return ""
	}
	return c.Members[0].Name
}

func (c Car) all(s MemberState) bool {
	return !slices.ContainsFunc(c.Members, func(m Member) bool { return m.State != s })
}

// Train is one queue of cars, the head car first. Cars that are done leave
// it; Shipped counts them.
type Train struct {
	Name      string    `json:"name"`
	Stopped   bool      `json:"stopped"`
	Reason    string    `json:"reason,omitempty"`
	StoppedBy string    `json:"stopped_by,omitempty"`
	StoppedAt time.Time `json:"stopped_at,omitzero"`
	Cars      []Car     `json:"cars"`
	LastCar   int       `json:"last_car"` // the newest car's ID
	Shipped   int       `json:"shipped"`
}

// New is an empty, running train.
func New(name string) (Train, error) {
	if err := ValidateName(name); err != nil {
		return Train{}, err
	}
	return Train{Name: name, Cars: []Car{}}, nil
}

// ValidateName checks a train's name: a service's, or one shared by several.
func ValidateName(name string) error { return gohere.ValidateName("train", name) }

// Head is the leading car; ok is false for an empty train.
func (t *Train) Head() (_ *Car, ok bool) {
	if len(t.Cars) == 0 {
		return nil, false
	}
	return &t.Cars[0], true
}

// Leader is the head car's leader, "" for an empty train.
func (t *Train) Leader() string {
	if h, ok := t.Head(); ok {
		return h.Leader()
	}
	return ""
}

// Find returns the car and index of a member; ok is false when not aboard.
func (t *Train) Find(name string) (car, member int, ok bool) {
	for i, c := range t.Cars {
		if j := slices.IndexFunc(c.Members, func(m Member) bool { return m.Name == name }); j >= 0 {
			return i, j, true
		}
	}
	return 0, 0, false
}

// People is everyone aboard, head car first.
func (t *Train) People() []string {
	var out []string
	for _, c := range t.Cars {
		for _, m := range c.Members {
			out = append(out, m.Name)
		}
	}
	return out
}

// Actor is who acts: a person (Human) or a machine, by name.
type Actor struct {
	Name  string
	Human bool
}

// EventKind names a change of a train.
type EventKind string

const (
	EventJoined    EventKind = "joined"
	EventIn        EventKind = "in"
	EventVerified  EventKind = "verified"
	EventLeft      EventKind = "left"
	EventRemoved   EventKind = "removed"
	EventIdle      EventKind = "idle" // an idle member was moved to the next car
	EventStopped   EventKind = "stopped"
	EventStarted   EventKind = "started"
	EventDeploying EventKind = "deploying" // the head car's deploy started
	EventDeployed  EventKind = "deployed"  // …and finished: the car moved on
)

// Event is one change of a train, what its message tells. Car is the car
// it is about; CarState its state after the change and Moved whether the
// change moved it (or, for a car that is done, the next car now leads).
type Event struct {
	Kind     EventKind `json:"kind"`
	Train    string    `json:"train"`
	Actor    string    `json:"actor"`
	Member   string    `json:"member,omitempty"` // whom it is about, when not the actor
	Car      int       `json:"car,omitempty"`
	CarState CarState  `json:"car_state,omitempty"`
	Moved    bool      `json:"moved,omitempty"`
	Leader   string    `json:"leader,omitempty"`  // the head car's leader after the change
	Members  []string  `json:"members,omitempty"` // of the car, or of the whole train for a stop and a start
	Reason   string    `json:"reason,omitempty"`  // stop
	DeployID string    `json:"deploy_id,omitempty"`
	Status   string    `json:"status,omitempty"` // deployed: how the deploy finished
	At       time.Time `json:"at"`
}

func (t *Train) event(kind EventKind, actor string, car int, at time.Time) Event {
	e := Event{Kind: kind, Train: t.Name, Actor: actor, Leader: t.Leader(), At: at}
	if i := slices.IndexFunc(t.Cars, func(c Car) bool { return c.ID == car }); i >= 0 {
		c := t.Cars[i]
		e.Car, e.CarState = c.ID, c.State
		for _, m := range c.Members {
			e.Members = append(e.Members, m.Name)
		}
	}
	return e
}

func (t *Train) stoppedError() error {
	return gohere.Errorf(gohere.Conflict, "train %s was stopped by %s: %s; nothing moves until a human starts it", t.Name, t.StoppedBy, t.Reason)
}

// Join puts who in the last car, or in a new car when that one is full or
// already left the platform.
func (t *Train) Join(who Actor, carSize int, now time.Time) (Event, error) {
	if err := gohere.ValidateName("member", who.Name); err != nil {
		return Event{}, err
	}
	if carSize < 1 {
		return Event{}, gohere.Errorf(gohere.Invalid, "train %s: car size %d: want at least 1", t.Name, carSize)
	}
	if i, _, ok := t.Find(who.Name); ok {
		return Event{}, gohere.Errorf(gohere.Conflict, "%s is in car %d of train %s already", who.Name, t.Cars[i].ID, t.Name)
	}
	m := Member{Name: who.Name, State: Waiting, JoinedAt: now, Since: now}
	if n := len(t.Cars); n > 0 && t.Cars[n-1].State == Boarding && len(t.Cars[n-1].Members) < carSize {
		t.Cars[n-1].Members = append(t.Cars[n-1].Members, m)
		return t.event(EventJoined, who.Name, t.Cars[n-1].ID, now), nil
	}
	t.LastCar++
	t.Cars = append(t.Cars, Car{ID: t.LastCar, State: Boarding, Since: now, Members: []Member{m}})
	return t.event(EventJoined, who.Name, t.LastCar, now), nil
}

// headMember finds who in the head car, or says why they cannot act yet.
func (t *Train) headMember(who, doing string) (*Car, *Member, error) {
	ci, mi, ok := t.Find(who)
	switch {
	case !ok:
		return nil, nil, gohere.Errorf(gohere.NotFound, "%s is not in train %s: join it first", who, t.Name)
	case ci > 0:
		return nil, nil, gohere.Errorf(gohere.Conflict, "%s: car %d of train %s is not at the head yet: %s once car %d is done",
			who, t.Cars[ci].ID, t.Name, doing, t.Cars[ci-1].ID)
	case t.Stopped:
		return nil, nil, t.stoppedError()
	}
	return &t.Cars[0], &t.Cars[0].Members[mi], nil
}

// In records that who pushed their code, with the changes it ships (their
// author is who; none: the pipeline names them). When the whole head car is
// in, it goes to staging: its leader is told to deploy.
func (t *Train) In(who Actor, changes []gohere.Change, now time.Time) (Event, error) {
	car, m, err := t.headMember(who.Name, "say in")
	if err != nil {
		return Event{}, err
	}
	for i := range changes {
		changes[i].Author = who.Name
	}
	// The rules of a deploy's changes, which these become.
	if err := (gohere.Deploy{Service: t.Name, Env: "train", Version: "in", Stage: gohere.StageFull, Changes: changes}).Validate(); err != nil {
		return Event{}, gohere.Errorf(gohere.Invalid, "%s in: %w", who.Name, err)
	}
	if car.State != Boarding && car.State != Pushing {
		return Event{}, gohere.Errorf(gohere.Conflict, "car %d of train %s is %s: in is for a car that boards or pushes", car.ID, t.Name, car.State)
	}
	if m.State == In {
		return Event{}, gohere.Errorf(gohere.Conflict, "%s is in already", who.Name)
	}
	m.State, m.Since, m.Changes = In, now, changes
	if car.State == Boarding {
		car.State, car.Since = Pushing, now
	}
	moved := t.settle(now)
	e := t.event(EventIn, who.Name, car.ID, now)
	e.Moved = moved
	return e, nil
}

// Verified records that who checked their change on staging. When the
// whole head car has, it goes to production: its leader is told to deploy.
func (t *Train) Verified(who Actor, now time.Time) (Event, error) {
	car, m, err := t.headMember(who.Name, "verify")
	if err != nil {
		return Event{}, err
	}
	if car.State != Verifying {
		return Event{}, gohere.Errorf(gohere.Conflict, "car %d of train %s is %s: verify once its staging deploy finished", car.ID, t.Name, car.State)
	}
	if m.State == Verified {
		return Event{}, gohere.Errorf(gohere.Conflict, "%s verified already", who.Name)
	}
	m.State, m.Since = Verified, now
	moved := t.settle(now)
	e := t.event(EventVerified, who.Name, car.ID, now)
	e.Moved = moved
	return e, nil
}

// settle moves the head car on when all its members said what its state
// waits for. It reports whether it moved; a stopped train does not move.
func (t *Train) settle(now time.Time) bool {
	car, ok := t.Head()
	if !ok || t.Stopped || len(car.Members) == 0 {
		return false
	}
	switch {
	case car.State == Pushing && car.all(In):
		car.State = Staging
	case car.State == Verifying && car.all(Verified):
		car.State = Prod
	default:
		return false
	}
	car.Since = now
	return true
}

// Leave takes who off the train. A car left empty is gone.
func (t *Train) Leave(who Actor, now time.Time) (Event, error) {
	ci, mi, ok := t.Find(who.Name)
	if !ok {
		return Event{}, gohere.Errorf(gohere.NotFound, "%s is not in train %s", who.Name, t.Name)
	}
	return t.takeOff(EventLeft, who.Name, "", ci, mi, now), nil
}

// Remove takes member off the train; only the leader of the member's car
// may.
func (t *Train) Remove(who Actor, member string, now time.Time) (Event, error) {
	ci, mi, ok := t.Find(member)
	switch {
	case !ok:
		return Event{}, gohere.Errorf(gohere.NotFound, "%s is not in train %s", member, t.Name)
	case t.Cars[ci].Leader() != who.Name:
		return Event{}, gohere.Errorf(gohere.Forbidden, "%s may not remove %s: only %s, who leads car %d, may", who.Name, member, t.Cars[ci].Leader(), t.Cars[ci].ID)
	case member == who.Name:
		return Event{}, gohere.Errorf(gohere.Invalid, "%s: to get off, leave", who.Name)
	}
	return t.takeOff(EventRemoved, who.Name, member, ci, mi, now), nil
}

func (t *Train) takeOff(kind EventKind, actor, member string, ci, mi int, now time.Time) Event {
	car := &t.Cars[ci]
	id := car.ID
	car.Members = slices.Delete(car.Members, mi, mi+1)
	if len(car.Members) == 0 {
		t.Cars = slices.Delete(t.Cars, ci, ci+1)
	}
	moved := ci == 0 && t.settle(now)
	e := t.event(kind, actor, id, now)
	e.Car, e.Member, e.Moved = id, member, moved
	return e
}

// Stop stops the train: any member, or any human, may; a reason is
// required, and someone must be aboard. Nothing moves until a human starts
// it again.
func (t *Train) Stop(who Actor, reason string, now time.Time) (Event, error) {
	reason = strings.TrimSpace(reason)
	_, _, member := t.Find(who.Name)
	switch {
	case len(t.People()) == 0:
		return Event{}, gohere.Errorf(gohere.Invalid, "train %s has nobody aboard: there is nothing to stop", t.Name)
	case !who.Human && !member:
		return Event{}, gohere.Errorf(gohere.Forbidden, "%s may not stop train %s: a member or a human may", who.Name, t.Name)
	case reason == "":
		return Event{}, gohere.Errorf(gohere.Invalid, "stop train %s: a reason is required", t.Name)
	case len(reason) > gohere.MaxReasonLen:
		return Event{}, gohere.Errorf(gohere.Invalid, "stop train %s: the reason is longer than %d bytes", t.Name, gohere.MaxReasonLen)
	case t.Stopped:
		return Event{}, gohere.Errorf(gohere.Conflict, "train %s was stopped by %s already: %s", t.Name, t.StoppedBy, t.Reason)
	}
	t.stop(who.Name, reason, now)
	return t.everyone(EventStopped, who.Name, now), nil
}

func (t *Train) stop(by, reason string, now time.Time) {
	t.Stopped, t.StoppedBy, t.Reason, t.StoppedAt = true, by, reason, now
}

// everyone is an event told to the whole train.
func (t *Train) everyone(kind EventKind, actor string, now time.Time) Event {
	e := Event{Kind: kind, Train: t.Name, Actor: actor, Leader: t.Leader(), Members: t.People(), Reason: t.Reason, At: now}
	if h, ok := t.Head(); ok {
		e.Car, e.CarState = h.ID, h.State
	}
	return e
}

// Start runs a stopped train again; only a human may. The head car moves
// on at once if all its members answered meanwhile.
func (t *Train) Start(who Actor, now time.Time) (Event, error) {
	switch {
	case !who.Human:
		return Event{}, gohere.Errorf(gohere.Forbidden, "%s may not start train %s: only a human may", who.Name, t.Name)
	case !t.Stopped:
		return Event{}, gohere.Errorf(gohere.Conflict, "train %s runs already", t.Name)
	}
	t.Stopped, t.StoppedBy, t.Reason, t.StoppedAt = false, "", "", time.Time{}
	moved := t.settle(now)
	e := t.everyone(EventStarted, who.Name, now)
	e.Moved = moved
	return e, nil
}

// Deploying ties a deploy to the head car's current stage (staging or
// prod): its finish moves the car on (see Deployed). The head car's leader,
// or a machine (a CI pipeline), may.
func (t *Train) Deploying(who Actor, deployID string, now time.Time) (Event, error) {
	car, ok := t.Head()
	switch {
	case strings.TrimSpace(deployID) == "":
		return Event{}, gohere.Errorf(gohere.Invalid, "train %s: a deploy id is required", t.Name)
	case !ok:
		return Event{}, gohere.Errorf(gohere.Conflict, "train %s is empty: there is no car to deploy", t.Name)
	case who.Human && who.Name != car.Leader():
		return Event{}, gohere.Errorf(gohere.Forbidden, "%s may not deploy car %d of train %s: %s leads it", who.Name, car.ID, t.Name, car.Leader())
	case t.Stopped:
		return Event{}, t.stoppedError()
	case car.State != Staging && car.State != Prod:
		return Event{}, gohere.Errorf(gohere.Conflict, "car %d of train %s is %s: it deploys once all are in (staging) or verified (prod)", car.ID, t.Name, car.State)
	case car.DeployID != "":
		return Event{}, gohere.Errorf(gohere.Conflict, "car %d of train %s deploys already: deploy %s", car.ID, t.Name, car.DeployID)
	}
	car.DeployID = deployID
	e := t.event(EventDeploying, who.Name, car.ID, now)
	e.DeployID = deployID
	return e, nil
}

// Deployed applies the finish of the head car's deploy: a success moves
// the car from staging to verifying, or from prod to done (the next car
// leads); anything else stops the train. ok is false when nothing changed:
// the deploy is not the head car's, or it succeeded while the train is
// stopped (the car keeps it and moves once a human starts the train). A
// failure of a stopped train lets the car go of its deploy and keeps who
// stopped it first, and why.
func (t *Train) Deployed(deployID string, status gohere.Status, now time.Time) (_ Event, ok bool) {
	car, ok := t.Head()
	if !ok || deployID == "" || car.DeployID != deployID || status == gohere.StatusRunning ||
		(t.Stopped && status == gohere.StatusSucceeded) {
		return Event{}, false
	}
	car.DeployID = ""
	id := car.ID
	var e Event
	switch {
	case status != gohere.StatusSucceeded:
		if !t.Stopped {
			t.stop("gohere", "deploy "+deployID+" of car "+strconv.Itoa(id)+" finished "+string(status), now)
		}
		e = t.everyone(EventDeployed, "gohere", now)
	case car.State == Staging:
		car.State, car.Since = Verifying, now
		e = t.event(EventDeployed, "gohere", id, now)
		e.Moved = true
	default: // Prod
		car.State = Done
		e = t.event(EventDeployed, "gohere", id, now)
		t.Cars = slices.Delete(t.Cars, 0, 1)
		t.Shipped++
		if next, ok := t.Head(); ok {
			next.Since = now
		}
		e.Leader, e.Moved = t.Leader(), true
	}
	e.DeployID, e.Status = deployID, string(status)
	return e, true
}

// Idle moves the first member of the head car who has not answered for
// idle to the car behind it (a new one, put right behind the head car,
// when that one is full), so that the rest need not wait. It does so only
// when someone waits on them: another member of the head car who answered
// within idle, or someone in a later car who did. ok is false, and nothing
// changed, otherwise. A stopped train does not move.
func (t *Train) Idle(now time.Time, idle time.Duration, carSize int) (_ Event, ok bool) {
	if carSize < 1 {
		carSize = 1
	}
	mi := t.idleMember(now, idle)
	if mi < 0 {
		return Event{}, false
	}
	car := &t.Cars[0]
	m := car.Members[mi]
	m.State, m.Since = Waiting, now
	id := car.ID
	car.Members = slices.Delete(car.Members, mi, mi+1)
	var to int
	if len(t.Cars) > 1 && len(t.Cars[1].Members) < carSize {
		t.Cars[1].Members = append(t.Cars[1].Members, m)
		to = t.Cars[1].ID
	} else {
		// Right behind the head car; behind the next one too when the
		// head car is left empty, so that the next one leads.
		at := 1
		if len(car.Members) == 0 && len(t.Cars) > 1 {
			at = 2
		}
		t.LastCar++
		to = t.LastCar
		t.Cars = slices.Insert(t.Cars, at, Car{ID: to, State: Boarding, Since: now, Members: []Member{m}})
		car = &t.Cars[0] // Insert may have moved the slice
	}
	if len(car.Members) == 0 {
		t.Cars = slices.Delete(t.Cars, 0, 1)
	}
	moved := t.settle(now)
	e := t.event(EventIdle, "gohere", id, now)
	e.Car, e.Member, e.Moved = id, m.Name, moved
	e.Reason = "no answer for " + idle.String() + ": moved to car " + strconv.Itoa(to)
	return e, true
}

// idleMember is the index in the head car of its first member who has not
// answered what the car waits for within idle, -1 when there is none or
// nobody active waits on them (see Idle).
func (t *Train) idleMember(now time.Time, idle time.Duration) int {
	car, ok := t.Head()
	if !ok || t.Stopped || idle <= 0 {
		return -1
	}
	waitsFor := map[CarState]MemberState{Boarding: Waiting, Pushing: Waiting, Verifying: In}[car.State]
	if waitsFor == "" {
		return -1
	}
	isIdle := func(m Member) bool { return m.State == waitsFor && now.Sub(m.Since) >= idle }
	mi := slices.IndexFunc(car.Members, isIdle)
	if mi < 0 {
		return -1
	}
	active := func(m Member) bool { return now.Sub(m.Since) < idle }
	for j, m := range car.Members {
		if j != mi && !isIdle(m) {
			return mi // a member of the car waits on them
		}
	}
	for _, c := range t.Cars[1:] {
		if slices.ContainsFunc(c.Members, active) {
			return mi // a later car does
		}
	}
	return -1
}

// Due reports whether a sweep at now may change the train: its head car
// waits for a deploy to finish (a stopped train only minds a failure, but
// reading the deploy is how to know), or has an idle member someone waits
// on.
func (t *Train) Due(now time.Time, idle time.Duration) bool {
	if h, ok := t.Head(); ok && h.DeployID != "" {
		return true
	}
	return t.idleMember(now, idle) >= 0
}
