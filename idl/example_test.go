package idl_test

import (
	"fmt"

	"github.com/requestagent/requestagent/idl"
)

func ExampleRepository_LoadSource() {
	src := `
		#pragma prefix "example.com"
		module Shop {
			exception OutOfStock { string item; };
			interface Stock {
				readonly attribute long count;
				boolean reserve(in string item, out long left) raises (OutOfStock);
			};
		};`
	r := idl.NewRepository()
	if err := r.LoadSource("shop.idl", []byte(src), nil); err != nil {
		fmt.Println(err)
		return
	}
	stock, _ := r.Interface("IDL:example.com/Shop/Stock:1.0")
	for _, op := range stock.AllOperations() {
		fmt.Println(op.Name, len(op.Params), "params, returns", op.Result.Kind)
	}
	fmt.Println(stock.IsA("IDL:omg.org/CORBA/Object:1.0"))

	err := r.LoadSource("bad.idl", []byte("module M {\n  typedef Nope T;\n};"), nil)
	fmt.Println(err)
	// Output:
	// reserve 2 params, returns boolean
	// _get_count 0 params, returns long
	// true
	// bad.idl:2:11: Nope is not declared (looked up from module M)
}
