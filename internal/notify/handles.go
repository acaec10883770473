package notify

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/gohere/gohere"
)

// Handles maps author names, as deploys and decisions give them, to chat
// handles: a Slack member id (U024BE7LH) or a Mattermost-style @name.
type Handles map[string]string

var (
	slackMemberID = regexp.MustCompile(`^[UW][A-Z0-9]{2,20}$`)
	atName        = regexp.MustCompile(`^@[A-Za-z0-9._-]{1,64}$`)
)

// Mention is how a message names someone: <@U024BE7LH> for a Slack member
// id, the @name as written for other chats, or the name as plain text when
// it has no (usable) handle.
func (h Handles) Mention(name string) string {
	handle := h[name]
	switch {
	case slackMemberID.MatchString(handle):
		return "<@" + handle + ">"
	case atName.MatchString(handle):
		return handle
	}
	return text(name, nameRunes)
}

// ParseHandles reads a --chat-handles file, YAML of the form
//
//	alice: U024BE7LH
//	bob: "@bob"
//
// and returns every problem at once, each with its line.
func ParseHandles(r io.Reader) (Handles, error) {
	data, err := readConfig(r)
	if err != nil {
		return nil, err
	}
	if err := gohere.CheckYAMLAliases(data); err != nil {
		return nil, err
	}
	file, err := parseYAML(data)
	if err != nil {
		if strings.Contains(err.Error(), "'@' is a reserved character") {
			err = fmt.Errorf("%w (quote a handle that starts with @: bob: \"@bob\")", err)
		}
		return nil, err
	}
	h := Handles{}
	var errs []error
	docs := 0
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue // empty, or only comments
		}
		if docs++; docs > 1 {
			errs = append(errs, problem(doc.Body, "want one YAML document"))
			continue
		}
		m, ok := doc.Body.(*ast.MappingNode)
		if !ok {
			errs = append(errs, problem(doc.Body, "want a map of author names to chat handles (alice: U024BE7LH)"))
			continue
		}
		for _, kv := range m.Values {
			name, handle, err := handleEntry(kv)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			h[name] = handle
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return h, nil
}

// handleEntry checks one "name: handle" pair. The parser has refused
// duplicate names already.
func handleEntry(kv *ast.MappingValueNode) (name, handle string, err error) {
	key, ok := kv.Key.(*ast.StringNode)
	if !ok || key.Value == "" {
		return "", "", problem(kv.Key, "want an author name")
	}
	at := fmt.Sprintf("%q", key.Value)
	v, ok := kv.Value.(*ast.StringNode)
	switch {
	case kv.Value == nil || kv.Value.Type() == ast.NullType || ok && v.Value == "":
		return "", "", problem(kv.Key, "%s: the handle is empty", at)
	case !ok:
		return "", "", problem(kv.Value, "%s: the handle must be a string", at)
	case !slackMemberID.MatchString(v.Value) && !atName.MatchString(v.Value):
		// The handle is not shown: a webhook URL pasted here would be.
		return "", "", problem(kv.Value, "%s: want a Slack member id (U024BE7LH) or @name (letters, digits and . _ -)", at)
	}
	return key.Value, v.Value, nil
}

// problem is an Invalid error at n's line.
func problem(n ast.Node, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		msg = fmt.Sprintf("line %d: %s", tk.Position.Line, msg)
	}
	return gohere.Errorf(gohere.Invalid, "%s", redact(msg))
}

// parseYAML parses without decoding; goccy/go-yaml v1.19.2 panics on some
// malformed input, which becomes an Invalid error.
func parseYAML(data []byte) (file *ast.File, err error) {
	defer func() {
		if recover() != nil {
			file, err = nil, gohere.Errorf(gohere.Invalid, "malformed YAML: the parser gave up")
		}
	}()
	file, err = parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(err)
	}
	return file, nil
}
