package nmproto_test

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/requestagent/requestagent/giop"
	"github.com/requestagent/requestagent/nmproto"
)

// TestPropertyTable_Entries: every entry is well formed — a unique name,
// a scope, a one-line description, a kind a value can be checked against
// — and its default travels: written as an any and read back, it is the
// same value and its own entry accepts it.
func TestPropertyTable_Entries(t *testing.T) {
	table := nmproto.PropertyTable()
	if len(table) == 0 {
		t.Fatal("empty table")
	}
	seen := map[string]bool{}
	for _, def := range table {
		t.Run(def.Name, func(t *testing.T) {
			if def.Name == "" || seen[def.Name] {
				t.Fatalf("name %q empty or not unique", def.Name)
			}
			seen[def.Name] = true
			if len(def.Name) > nmproto.MaxPropertyNameLen {
				t.Errorf("name over %d bytes: no PropertySeq could carry it", nmproto.MaxPropertyNameLen)
			}
			if got, ok := nmproto.LookupProperty(def.Name); !ok || !reflect.DeepEqual(got, def) {
				t.Errorf("LookupProperty = %+v, %v", got, ok)
			}
			switch def.Scope {
			case nmproto.ScopeProxy, nmproto.ScopeRequest, nmproto.ScopeBoth:
			default:
				t.Errorf("scope %v", def.Scope)
			}
			if def.Doc == "" || strings.Contains(def.Doc, "\n") || strings.Contains(def.Doc, "|") {
				t.Errorf("doc %q: want one line, without | (docs/native-messaging.md prints it in a table)", def.Doc)
			}
			// The default travels as an any and comes back as itself.
			e := giop.NewEncoder(giop.V1_2, false)
			if err := e.WriteAny(def.Any(def.Default)); err != nil {
				t.Fatalf("default %v does not encode: %v", def.Default, err)
			}
			d := giop.NewDecoder(e.Bytes(), giop.V1_2, false)
			back := d.Any()
			if err := d.Err(); err != nil {
				t.Fatalf("default does not decode: %v", err)
			}
			if back.Value != def.Default {
				t.Errorf("default %#v read back as %#v", def.Default, back.Value)
			}
			if err := def.Check(back); err != nil {
				t.Errorf("its entry refuses its default: %v", err)
			}
			// Settings' zero value must mean the defaults: an agent
			// configured with no defaults has these.
			if zero := reflect.Zero(reflect.TypeOf(def.Default)).Interface(); def.Default != zero {
				t.Errorf("default %#v is not its type's zero value", def.Default)
			}
			// A value of another type is refused.
			other := giop.Any{Type: giop.TCString, Value: "x"}
			if err := def.Check(other); err == nil {
				t.Error("a string accepted")
			}
			if def.Bits != 0 {
				if err := def.Check(def.Any(^def.Bits)); err == nil {
					t.Errorf("0x%02x accepted, outside bits 0x%02x", ^def.Bits, def.Bits)
				}
				if err := def.Check(def.Any(def.Bits)); err != nil {
					t.Errorf("all its bits refused: %v", err)
				}
			}
		})
	}
}

// TestSettings_KeepEveryProperty: Settings has a field for each kept
// entry, of the entry's Go type; properties() lists exactly those, in the
// table's order; and what it lists is accepted back as it is.
func TestSettings_KeepEveryProperty(t *testing.T) {
	var want []string
	var s nmproto.Settings
	for _, def := range nmproto.PropertyTable() {
		v, ok := s.Get(def.Name)
		if def.OnCreation {
			if ok {
				t.Errorf("%s is not kept, yet Settings has it", def.Name)
			}
			if _, err := s.Apply([]nmproto.Property{{Name: def.Name, Value: def.Any(def.Default)}}, nmproto.ScopeBoth); err == nil {
				t.Errorf("%s applied to Settings, which does not keep it", def.Name)
			}
			continue
		}
		want = append(want, def.Name)
		if !ok {
			t.Errorf("%s: no field in Settings", def.Name)
			continue
		}
		if reflect.TypeOf(v) != reflect.TypeOf(def.Default) || v != def.Default {
			t.Errorf("%s: zero Settings has %#v, the table's default is %#v", def.Name, v, def.Default)
		}
	}
	var got []string
	for _, p := range s.List() {
		got = append(got, p.Name)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("List() names %v, want the kept entries %v", got, want)
	}
	set := nmproto.Settings{WaitReply: true, ReplyDropping: nmproto.DropUserExceptions | nmproto.DropSystemExceptions, ManualTrash: true}
	back, err := nmproto.Settings{}.Apply(set.List(), nmproto.ScopeBoth)
	if err != nil || back != set {
		t.Fatalf("Apply(List()) = %+v, %v; want %+v", back, err, set)
	}
	// The admin listing: every kept property, in the table's order, an
	// octet in hex.
	str := set.String()
	if !strings.HasPrefix(str, "WaitReply=true ReplyDropping=0x06 RequestManualTrash=true") {
		t.Errorf("String() = %q", str)
	}
	if got := strings.Fields(str); len(got) != len(want) {
		t.Errorf("String() = %q, want the %d kept properties", str, len(want))
	}
}

// TestSettings_Apply: the refusals create_request_proxy and create_request
// answer, each naming the property, in the agent's words.
func TestSettings_Apply(t *testing.T) {
	b := func(name string, v bool) nmproto.Property {
		return nmproto.Property{Name: name, Value: giop.Any{Type: giop.TCBoolean, Value: v}}
	}
	o := func(name string, v byte) nmproto.Property {
		return nmproto.Property{Name: name, Value: giop.Any{Type: giop.TCOctet, Value: v}}
	}
	cases := []struct {
		p     nmproto.Property
		scope nmproto.Scope
		want  string // "" = accepted
	}{
		{b(nmproto.PropWaitReply, true), nmproto.ScopeProxy, ""},
		{b(nmproto.PropRequestManualTrash, true), nmproto.ScopeRequest, ""},
		{b("NoSuchProperty", true), nmproto.ScopeProxy, "property NoSuchProperty: unknown"},
		{b("NoSuchProperty", true), nmproto.ScopeRequest, "property NoSuchProperty: unknown here"},
		{o(nmproto.PropReplyDropping, 1), nmproto.ScopeRequest, "property ReplyDropping: unknown here"},
		{b(nmproto.PropRecipientOnConnection, true), nmproto.ScopeRequest, "property RecipientOnConnection: unknown here"},
		{b(nmproto.PropRecipientOnConnection, true), nmproto.ScopeProxy, "property RecipientOnConnection: unknown"},
		{o(nmproto.PropWaitReply, 1), nmproto.ScopeProxy, "property WaitReply: must be a boolean, not octet"},
		{b(nmproto.PropReplyDropping, true), nmproto.ScopeProxy, "property ReplyDropping: must be an octet, not boolean"},
		{o(nmproto.PropReplyDropping, 0x08), nmproto.ScopeProxy, "property ReplyDropping: 0x08 has bits other than 0x01, 0x02, 0x04"},
		{nmproto.Property{Name: nmproto.PropWaitReply, Value: giop.Any{Type: &giop.TypeCode{Kind: giop.TkAlias, Content: giop.TCBoolean}, Value: true}},
			nmproto.ScopeProxy, ""},
	}
	for _, c := range cases {
		_, err := nmproto.Settings{}.Apply([]nmproto.Property{c.p}, c.scope)
		var pe *nmproto.PropertyError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s in scope %v: %v", c.p.Name, c.scope, err)
		case c.want != "" && (err == nil || err.Error() != c.want || !errors.As(err, &pe) || pe.Name != c.p.Name):
			t.Errorf("%s in scope %v: %v, want %q", c.p.Name, c.scope, err, c.want)
		}
	}
	rest, v, err := nmproto.TakeProperty([]nmproto.Property{b(nmproto.PropWaitReply, true), b(nmproto.PropRecipientOnConnection, true)},
		nmproto.PropRecipientOnConnection)
	if err != nil || v != true || len(rest) != 1 || rest[0].Name != nmproto.PropWaitReply {
		t.Fatalf("TakeProperty = %v, %v, %v", rest, v, err)
	}
	if _, _, err := nmproto.TakeProperty([]nmproto.Property{o(nmproto.PropRecipientOnConnection, 1)}, nmproto.PropRecipientOnConnection); err == nil {
		t.Fatal("TakeProperty accepted an octet RecipientOnConnection")
	}
}

// TestPropertyTable_Documented: docs/native-messaging.md prints the table
// as it is here, so that the page a user reads and the agent agree.
func TestPropertyTable_Documented(t *testing.T) {
	b, err := os.ReadFile("../docs/native-messaging.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- properties: from nmproto/properties.go -->\n", "<!-- end of properties -->"
	doc := string(b)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("docs/native-messaging.md has no table between %q and %q", begin, end)
	}
	if got, want := doc[i+len(begin):j], docTable(); got != want {
		t.Fatalf("docs/native-messaging.md's properties are not the table's; it should read:\n%s", want)
	}
}

// docTable renders the table as docs/native-messaging.md prints it.
func docTable() string {
	var b strings.Builder
	b.WriteString("| property | type | scope | default | what it does |\n|---|---|---|---|---|\n")
	for _, def := range nmproto.PropertyTable() {
		dflt := def.Format(def.Default)
		if v, ok := def.Default.(bool); ok {
			dflt = strings.ToUpper(fmt.Sprint(v))
		}
		what := def.Doc
		if !def.VisiBroker {
			what += "; ours"
		}
		if def.OnCreation {
			what += "; not kept: `properties()` does not list it"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", def.Name, def.TypeName(), def.Scope, dflt, what)
	}
	return b.String()
}

// TestSettings_Each: Each gives every kept property, in the table's
// order, with the value Apply set (the field it reads is the one Apply
// writes), and costs no allocation, since the store writes every request's
// settings with it (agent/SPEC.md).
func TestSettings_Each(t *testing.T) {
	for _, want := range (nmproto.Settings{}).List() {
		def, _ := nmproto.LookupProperty(want.Name)
		v := def.Other()
		s, err := nmproto.Settings{}.Apply([]nmproto.Property{{Name: def.Name, Value: def.Any(v)}}, nmproto.ScopeBoth)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		s.Each(func(d nmproto.PropertyDef, got any) {
			names = append(names, d.Name)
			if d.Name == def.Name && got != v || d.Name != def.Name && got != d.Default {
				t.Errorf("%s set: Each gives %s = %#v", def.Name, d.Name, got)
			}
		})
		if len(names) != len(s.List()) {
			t.Errorf("Each gave %v, List %v", names, s.List())
		}
	}
	s := nmproto.Settings{WaitReply: true, ReplyDropping: nmproto.DropNormal}
	n := 0
	if a := testing.AllocsPerRun(100, func() { s.Each(func(nmproto.PropertyDef, any) { n++ }) }); a != 0 {
		t.Errorf("Each allocated %v times", a)
	}
}
