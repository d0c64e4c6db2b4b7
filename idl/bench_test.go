package idl

import (
	"fmt"
	"testing"

	"github.com/requestagent/requestagent/giop"
)

// benchRequest is a realistic request body: a struct holding a sequence
// of 100 structs, each with strings, numbers, an enum and a short
// sequence, passed as the in argument of an operation.
func benchRequest() (*Operation, []any) {
	item := mtStruct("Shop::Item",
		mtMem("sku", mtStr(0)), mtMem("qty", mtLong), mtMem("price", mtDouble),
		mtMem("color", mtColor), mtMem("tags", mtSeq(mtStr(16), 4)), mtMem("weight", mtFloat))
	order := mtStruct("Shop::Order",
		mtMem("id", mtStr(0)), mtMem("customer", mtULL), mtMem("priority", mtShort),
		mtMem("express", mtBool), mtMem("items", mtAlias("Shop::Items", mtSeq(item, 0))))
	op := &Operation{Name: "submit", Result: mtLong, Params: []Param{{Name: "order", Dir: In, Type: order}}}
	items := make([]any, 100)
	for i := range items {
		items[i] = map[string]any{
			"sku": fmt.Sprintf("SKU-%06d", i), "qty": int32(i + 1), "price": float64(i) * 1.25,
			"color": []string{"red", "green", "blue"}[i%3], "tags": []any{"new", "sale"},
			"weight": float32(i) / 4,
		}
	}
	v := map[string]any{"id": "order-42", "customer": uint64(1234567890123), "priority": int16(3),
		"express": true, "items": items}
	return op, []any{v}
}

func BenchmarkMarshalRequest(b *testing.B) {
	op, args := benchRequest()
	e := giop.NewEncoder(giop.V1_2, true)
	if err := op.MarshalArgs(e, args); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(e.Len()))
	b.ReportAllocs()
	for b.Loop() {
		e.Reset(giop.V1_2, true)
		if err := op.MarshalArgs(e, args); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalRequest(b *testing.B) {
	op, args := benchRequest()
	e := giop.NewEncoder(giop.V1_2, true)
	if err := op.MarshalArgs(e, args); err != nil {
		b.Fatal(err)
	}
	body := e.Bytes()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := op.UnmarshalArgs(giop.NewDecoder(body, giop.V1_2, true)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkToJSONRequest(b *testing.B) {
	op, args := benchRequest()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ToJSON(op.Params[0].Type, args[0]); err != nil {
			b.Fatal(err)
		}
	}
}
