// rt_client: omniORB client for any RT::Echo server (roundtrip.idl); the
// tests run it against the Go servant of idl/roundtrip_interop_test.go,
// which decodes every argument and encodes every result with the idl
// package's marshaller.
//
//   rt_client [-ORB<option> <value> ...] [--wide] <IOR-or-corbaloc>
//
// For each operation it prints "<op> -> ok" and finally "PASS" (exit 0);
// on the first wrong result or unexpected exception it prints
// "FAIL: <op>: <what>" and exits 1.  --wide adds the wchar/wstring
// operations (they need GIOP 1.1 or later and negotiated code sets, so an
// IOR rather than a corbaloc).

#include "rt_common.h"
#include "peer_util.hh"

#include <cstring>
#include <iostream>
#include <sstream>
#include <string>

namespace {

struct Failure {
  std::string what;
};

void Ok(const char* op) { std::cout << op << " -> ok" << std::endl; }

void Expect(const char* op, const std::string& diff) {
  if (!diff.empty()) throw Failure{std::string(op) + ": " + diff};
  Ok(op);
}

void Run(RT::Echo_ptr echo, bool wide) {
  {
    RT::Rec_var r = echo->echoRec(rt::MakeRec());
    rt::Diff d;
    rt::CompareRec(d, "r", r.in(), rt::MakeRec());
    Expect("echoRec", d.msg());
  }
  {
    RT::USeq us = rt::MakeUnions();
    rt::Diff d;
    for (CORBA::ULong i = 0; i < us.length(); ++i) {
      RT::U_var u = echo->echoU(us[i]);
      rt::CompareU(d, "unions[" + std::to_string(i) + "]", u.in(), us[i]);
    }
    Expect("echoU", d.msg());
  }
  {
    rt::Diff d;
    RT::EU red, green, blue;
    red.r((const char*)"rouge");
    green.g(-5);
    blue._default();
    RT::EU_var r = echo->echoEU(red), g = echo->echoEU(green), b = echo->echoEU(blue);
    d.Check("red._d", static_cast<int>(r->_d()), static_cast<int>(RT::red));
    if (d.ok()) d.CheckStr("red.r", r->r(), "rouge");
    d.Check("green._d", static_cast<int>(g->_d()), static_cast<int>(RT::green));
    if (d.ok()) d.Check("green.g", g->g(), static_cast<CORBA::Long>(-5));
    d.Check("blue._d", static_cast<int>(b->_d()), static_cast<int>(RT::blue));
    RT::BU t, f;
    t.t(5);
    f._default();
    RT::BU bt = echo->echoBU(t), bf = echo->echoBU(f);
    d.Check("BU true", bt._d() ? bt.t() : -1, static_cast<CORBA::Long>(5));
    d.Check("BU false", static_cast<int>(bf._d()), 0);
    RT::CU a, z;
    a.a(3);
    z.o(7);
    z._d('z');
    RT::CU ca = echo->echoCU(a), cz = echo->echoCU(z);
    d.Check("CU a", ca._d() == 'a' ? ca.a() : static_cast<CORBA::Short>(-1), static_cast<CORBA::Short>(3));
    d.Check("CU z._d", cz._d(), static_cast<CORBA::Char>('z'));
    if (d.ok()) d.Check("CU z.o", cz.o(), static_cast<CORBA::Octet>(7));
    Expect("echoEU/BU/CU", d.msg());
  }
  {
    RT::Big big = rt::MakeBig(echo);
    RT::AnySeq got;
    got.length(big.anys.length());
    for (CORBA::ULong i = 0; i < big.anys.length(); ++i) {
      CORBA::Any_var a = echo->echoAny(big.anys[i]);
      got[i] = a.in();
    }
    rt::Diff d;
    rt::CompareAnys(d, "anys", got, big.anys);
    Expect("echoAny", d.msg());
  }
  {
    rt::Diff d;
    RT::InnerSeq_var s = echo->echoInners(rt::MakeInners());
    rt::CompareInners(d, "inners", s.in(), rt::MakeInners());
    RT::Big big = rt::MakeBig(echo);
    RT::Blob_var b = echo->echoBlob(big.bytes);
    d.Check("blob.length", b->length(), big.bytes.length());
    for (CORBA::ULong i = 0; d.ok() && i < b->length(); ++i) d.Check("blob[i]", b[i], big.bytes[i]);
    RT::Names_var n = echo->echoNames(big.nameList);
    d.Check("names.length", n->length(), big.nameList.length());
    for (CORBA::ULong i = 0; d.ok() && i < n->length(); ++i) d.CheckStr("names[i]", n[i], big.nameList[i]);
    RT::Matrix_var m = echo->echoMatrix(big.r.mx);
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 3; ++j) d.Check("matrix", m[i][j], big.r.mx[i][j]);
    RT::Money money = echo->echoMoney(big.r.m);
    d.Check<CORBA::Fixed>("money", money, big.r.m);
    d.Check("color", static_cast<int>(echo->echoColor(RT::green)), static_cast<int>(RT::green));
    RT::Node_var node = echo->echoNode(rt::MakeTree());
    rt::CompareNode(d, "node", node.in(), rt::MakeTree());
    Expect("echoInners/Blob/Names/Matrix/Money/Color/Node", d.msg());
  }
  {
    RT::Big_var b = echo->echoBig(rt::MakeBig(echo));
    Expect("echoBig", rt::CompareBig(b.in(), echo));
  }
  {
    CORBA::TypeCode_var tc = echo->echoTC(RT::_tc_Big);
    Expect("echoTC", tc->equal(RT::_tc_Big) ? "" : "TypeCode of RT::Big differs");
  }
  {
    CORBA::Object_var o = echo->echoObj(echo);
    CORBA::Object_var n = echo->echoObj(CORBA::Object::_nil());
    std::string diff;
    if (CORBA::is_nil(o) || !o->_is_equivalent(echo)) diff = "reference differs";
    if (!CORBA::is_nil(n)) diff = "nil reference came back non-nil";
    Expect("echoObj", diff);
  }
  {
    CORBA::String_var s = CORBA::string_dup("s");
    CORBA::Double d = 0;
    RT::Rec_var r2;
    CORBA::Long ret = echo->mixed(5, s.inout(), d, r2.out(), rt::MakeRec());
    rt::Diff diff;
    diff.Check("return", ret, static_cast<CORBA::Long>(6));
    diff.CheckStr("s", s.in(), "s!");
    diff.Check("d", d, 12.5);
    rt::CompareRec(diff, "r2", r2.in(), rt::MakeRec());
    Expect("mixed", diff.msg());
  }
  {
    std::string diff = "no exception";
    try {
      echo->raiseBoom(7);
    } catch (RT::Boom& b) {
      diff = (b.code == 7 && std::strcmp(b.why, "requested failure") == 0) ? "" : "wrong Boom members";
    }
    Expect("raiseBoom", diff);
  }
  {
    RT::Big_var b = echo->makeBig();
    Expect("makeBig", rt::CompareBig(b.in(), echo));
  }
  {
    CORBA::String_var diff = echo->checkBig(rt::MakeBig(echo));
    Expect("checkBig", diff.in());
  }
  if (wide) {
    RT::WRec_var w = echo->echoWRec(rt::MakeWRec());
    Expect("echoWRec", rt::CompareWRec(w.in()));
    RT::WRec want = rt::MakeWRec();
    CORBA::WString_var ws = echo->echoWString(want.ws);
    Expect("echoWString", std::wcscmp(ws.in(), want.ws) == 0 ? "" : "wide strings differ");
    CORBA::WChar wc = echo->echoWChar(want.wc);
    Expect("echoWChar", wc == want.wc ? "" : "wchar differs");
    RT::WRec_var made = echo->makeWRec();
    Expect("makeWRec", rt::CompareWRec(made.in()));
    CORBA::String_var diff = echo->checkWRec(rt::MakeWRec());
    Expect("checkWRec", diff.in());
  }
}

}  // namespace

int main(int argc, char** argv) {
  try {
    CORBA::ORB_var orb = CORBA::ORB_init(argc, argv);
    bool wide = false;
    const char* ref = nullptr;
    for (int i = 1; i < argc; ++i) {
      if (std::strcmp(argv[i], "--wide") == 0) {
        wide = true;
      } else if (!ref) {
        ref = argv[i];
      } else {
        ref = nullptr;
        break;
      }
    }
    if (!ref) {
      std::cerr << "usage: rt_client [-ORB...] [--wide] <IOR-or-corbaloc>" << std::endl;
      return 2;
    }
    int status = 0;
    try {
      CORBA::Object_var obj = orb->string_to_object(ref);
      RT::Echo_var echo = RT::Echo::_narrow(obj);
      if (CORBA::is_nil(echo)) throw Failure{"reference is not an RT::Echo"};
      Run(echo, wide);
      std::cout << "PASS" << std::endl;
    } catch (Failure& f) {
      std::cout << "FAIL: " << f.what << std::endl;
      status = 1;
    } catch (CORBA::Exception& e) {
      std::cout << "FAIL: " << peer::Describe(e) << std::endl;
      status = 1;
    }
    orb->destroy();
    return status;
  } catch (CORBA::Exception& e) {
    std::cout << "FAIL: " << peer::Describe(e) << std::endl;
  }
  return 1;
}
