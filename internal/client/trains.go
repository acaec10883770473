package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/gohere/gohere"
)

// Train is a push train as GET /api/v1/trains/{name} returns it.
type Train struct {
	Train     string    `json:"train"`
	Stopped   bool      `json:"stopped"`
	Reason    string    `json:"reason"`
	StoppedBy string    `json:"stopped_by,omitempty"`
	StoppedAt time.Time `json:"stopped_at,omitzero"`
	Leader    string    `json:"leader"`
	Shipped   int       `json:"shipped"`
	Cars      []Car     `json:"cars"`
}

// Car is one car of a Train.
type Car struct {
	ID       int       `json:"id"`
	State    string    `json:"state"`
	Since    time.Time `json:"since"`
	Leader   string    `json:"leader"`
	DeployID string    `json:"deploy_id,omitempty"`
	Members  []Member  `json:"members"`
	// Changes are the members' changes: what the car's deploy ships.
	Changes []gohere.Change `json:"changes"`
}

// Member is one person in a Car.
type Member struct {
	Name  string    `json:"name"`
	State string    `json:"state"`
	Since time.Time `json:"since"`
}

// TrainRequest is what an action needs besides its actor (the token's).
type TrainRequest struct {
	Reason   string          `json:"reason,omitempty"`    // stop
	Member   string          `json:"member,omitempty"`    // remove
	DeployID string          `json:"deploy_id,omitempty"` // deploy
	Changes  []gohere.Change `json:"changes,omitempty"`   // in: the member's changes
}

// TrainReply is the answer to an action: the train after it, and what
// changed in words.
type TrainReply struct {
	Train
	Message string `json:"message"`
}

// Train returns one train; an empty one when nobody joined it.
func (c *Client) Train(ctx context.Context, name string) (Train, error) {
	var out Train
	err := c.do(ctx, http.MethodGet, "/api/v1/trains/"+url.PathEscape(name), nil, nil, nil, &out)
	return out, err
}

// TrainAction applies one action (join, in, verified, leave, remove, stop,
// start, deploy) of the token's person to the named train.
func (c *Client) TrainAction(ctx context.Context, name, action string, req TrainRequest) (TrainReply, error) {
	var out TrainReply
	err := c.do(ctx, http.MethodPost, "/api/v1/trains/"+url.PathEscape(name)+"/"+url.PathEscape(action), nil, nil, req, &out)
	return out, err
}
