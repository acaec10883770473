// Package train is the push train's rules, pure: people join a queue that
// is cut into cars of a few people who deploy together; the head car moves
// boarding → pushing → staging → verifying → prod → done, led by its first
// member; anyone in the train, or any human, may stop it, and only a human
// starts it again.
//
// Every rule is a method of Train that changes it and returns the one
// Event to tell of the change, or an error (gohere kinds: Invalid,
// Conflict, Forbidden, NotFound) that changed nothing. Callers load the
// train, apply one action and save it with its event in one transaction.
//
// It imports only the module root: no database, no network, no clock (the
// time of every action is given).
package train
