// rt_common.h: the canonical RT values (roundtrip.idl) built in C++, and
// comparisons that say what differs.  idl/roundtrip_interop_test.go builds
// the same values independently in Go; make*/check* on either side prove
// that each ORB decodes exactly what the other encoded, so a bug that our
// encoder and decoder make symmetrically cannot pass as a successful echo.
//
// Narrow strings and chars are ASCII: what bytes a non-ASCII narrow string
// becomes depends on the negotiated char code set, not on the marshaller.
#ifndef RT_COMMON_H
#define RT_COMMON_H

#include "roundtrip.hh"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cwchar>
#include <limits>
#include <sstream>
#include <string>

namespace rt {

inline RT::Inner MakeInner(char c, double d) {
  RT::Inner in;
  in.c = c;
  in.d = d;
  return in;
}

inline RT::Rec MakeRec() {
  RT::Rec r;
  r.b = true;
  r.o = 0xAB;
  r.c = 'x';
  r.s = -12345;
  r.us = 54321;
  r.l = -2000000000;
  r.ul = 4000000000u;
  r.ll = std::numeric_limits<CORBA::LongLong>::min();
  r.ull = std::numeric_limits<CORBA::ULongLong>::max();
  r.f = 1.5f;
  r.d = -2.25e100;
  r.str = (const char*)"hello";
  r.col = RT::blue;
  r.m = RT::Money("-1234567.89");
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j) r.mx[i][j] = i * 3 + j + 1;
  return r;
}

inline RT::Node MakeNode(const char* name, CORBA::ULong kids) {
  RT::Node n;
  n.name = name;
  n.children.length(kids);
  return n;
}

// root{a{}, b{b1{}}}
inline RT::Node MakeTree() {
  RT::Node root = MakeNode("root", 2);
  root.children[0] = MakeNode("a", 0);
  root.children[1] = MakeNode("b", 1);
  root.children[1].children[0] = MakeNode("b1", 0);
  return root;
}

inline RT::InnerSeq MakeInners() {
  RT::InnerSeq s;
  s.length(2);
  s[0] = MakeInner('a', 1.0);
  s[1] = MakeInner('b', 2.0);
  return s;
}

// U values: {1: l=42}, {3: s="three"}, {4: inr={'q', 1e-9}}, {99: d=2.5}.
inline RT::USeq MakeUnions() {
  RT::USeq us;
  us.length(4);
  us[0].l(42);
  us[1].s((const char*)"three");
  us[1]._d(3);
  us[2].inr(MakeInner('q', 1e-9));
  us[3].d(2.5);
  us[3]._d(99);
  return us;
}

inline RT::Big MakeBig(CORBA::Object_ptr self) {
  RT::Big b;
  b.r = MakeRec();
  b.unions = MakeUnions();
  b.inners = MakeInners();
  b.bytes.length(10);
  for (CORBA::ULong i = 0; i < 10; ++i) b.bytes[i] = static_cast<CORBA::Octet>(i * 25);
  b.nameList.length(2);
  b.nameList[0] = (const char*)"alpha";
  b.nameList[1] = (const char*)"beta";
  // anys: Node tree, U default, Color blue, fixed<9,2>, long, string, InnerSeq.
  b.anys.length(7);
  b.anys[0] <<= MakeTree();
  b.anys[1] <<= MakeUnions()[3];
  b.anys[2] <<= RT::blue;
  b.anys[3] <<= CORBA::Any::from_fixed(CORBA::Fixed("-1234567.89"), 9, 2);
  b.anys[4] <<= static_cast<CORBA::Long>(7);
  b.anys[5] <<= (const char*)"s";
  b.anys[6] <<= MakeInners();
  b.obj = CORBA::Object::_duplicate(self);
  b.tc = CORBA::TypeCode::_duplicate(RT::_tc_Node);
  b.eunion._default();  // blue: no member
  b.bunion._default();  // FALSE: no member
  b.cunion.o(7);
  b.cunion._d('z');
  b.tree = MakeTree();
  return b;
}

inline RT::WRec MakeWRec() {
  RT::WRec w;
  w.wc = L'\u00e9';
  w.ws = (const CORBA::WChar*)L"h\u00e9llo w\u00f6rld \u4e16\u754c";
  w.wsb = (const CORBA::WChar*)L"12345678";
  return w;
}

// Diff records the first difference found.
class Diff {
 public:
  bool ok() const { return msg_.empty(); }
  const std::string& msg() const { return msg_; }

  template <typename T>
  void Check(const std::string& path, const T& got, const T& want) {
    if (ok() && !(got == want)) {
      std::ostringstream os;
      os << path << ": got " << Show(got) << ", want " << Show(want);
      msg_ = os.str();
    }
  }
  void CheckStr(const std::string& path, const char* got, const char* want) {
    if (ok() && std::strcmp(got, want) != 0) msg_ = path + ": got \"" + got + "\", want \"" + want + "\"";
  }
  void CheckWStr(const std::string& path, const CORBA::WChar* got, const CORBA::WChar* want) {
    if (ok() && std::wcscmp(got, want) != 0) msg_ = path + ": wide strings differ";
  }
  void Fail(const std::string& path, const std::string& what) {
    if (ok()) msg_ = path + ": " + what;
  }

 private:
  template <typename T>
  static T Show(const T& v) { return v; }
  static int Show(char v) { return v; }
  static int Show(CORBA::Octet v) { return v; }
  static std::string Show(const CORBA::Fixed& f) {
    CORBA::String_var s = f.to_string();
    return s.in();
  }
  std::string msg_;
};

inline void CompareInner(Diff& d, const std::string& p, const RT::Inner& got, const RT::Inner& want) {
  d.Check(p + ".c", got.c, want.c);
  d.Check(p + ".d", got.d, want.d);
}

inline void CompareRec(Diff& d, const std::string& p, const RT::Rec& got, const RT::Rec& want) {
  d.Check(p + ".b", got.b, want.b);
  d.Check(p + ".o", got.o, want.o);
  d.Check(p + ".c", got.c, want.c);
  d.Check(p + ".s", got.s, want.s);
  d.Check(p + ".us", got.us, want.us);
  d.Check(p + ".l", got.l, want.l);
  d.Check(p + ".ul", got.ul, want.ul);
  d.Check(p + ".ll", got.ll, want.ll);
  d.Check(p + ".ull", got.ull, want.ull);
  d.Check(p + ".f", got.f, want.f);
  d.Check(p + ".d", got.d, want.d);
  d.CheckStr(p + ".str", got.str, want.str);
  d.Check(p + ".col", static_cast<int>(got.col), static_cast<int>(want.col));
  d.Check<CORBA::Fixed>(p + ".m", got.m, want.m);
  for (int i = 0; i < 2; ++i)
    for (int j = 0; j < 3; ++j)
      d.Check(p + ".mx[" + std::to_string(i) + "][" + std::to_string(j) + "]", got.mx[i][j], want.mx[i][j]);
}

inline void CompareU(Diff& d, const std::string& p, const RT::U& got, const RT::U& want) {
  d.Check(p + "._d", got._d(), want._d());
  if (!d.ok()) return;
  switch (want._d()) {
    case 1: d.Check(p + ".l", got.l(), want.l()); break;
    case 2:
    case 3: d.CheckStr(p + ".s", got.s(), want.s()); break;
    case 4: CompareInner(d, p + ".inr", got.inr(), want.inr()); break;
    default: d.Check(p + ".d", got.d(), want.d());
  }
}

inline void CompareNode(Diff& d, const std::string& p, const RT::Node& got, const RT::Node& want) {
  d.CheckStr(p + ".name", got.name, want.name);
  d.Check(p + ".children.length", got.children.length(), want.children.length());
  for (CORBA::ULong i = 0; d.ok() && i < want.children.length(); ++i)
    CompareNode(d, p + ".children[" + std::to_string(i) + "]", got.children[i], want.children[i]);
}

inline void CompareInners(Diff& d, const std::string& p, const RT::InnerSeq& got, const RT::InnerSeq& want) {
  d.Check(p + ".length", got.length(), want.length());
  for (CORBA::ULong i = 0; d.ok() && i < want.length(); ++i)
    CompareInner(d, p + "[" + std::to_string(i) + "]", got[i], want[i]);
}

// CompareAnys checks the canonical any list: each TypeCode must be equal()
// (ids, names and member names included) and each value as built.
inline void CompareAnys(Diff& d, const std::string& p, const RT::AnySeq& got, const RT::AnySeq& want) {
  d.Check(p + ".length", got.length(), want.length());
  for (CORBA::ULong i = 0; d.ok() && i < want.length(); ++i) {
    std::string q = p + "[" + std::to_string(i) + "]";
    CORBA::TypeCode_var gt = got[i].type(), wt = want[i].type();
    if (!gt->equal(wt)) {
      d.Fail(q, "TypeCode differs");
      return;
    }
    bool extracted = false;
    switch (i) {
      case 0: {
        const RT::Node *g, *w;
        if ((extracted = (got[i] >>= g) && (want[i] >>= w))) CompareNode(d, q, *g, *w);
        break;
      }
      case 1: {
        const RT::U *g, *w;
        if ((extracted = (got[i] >>= g) && (want[i] >>= w))) CompareU(d, q, *g, *w);
        break;
      }
      case 2: {
        RT::Color g, w;
        if ((extracted = (got[i] >>= g) && (want[i] >>= w))) d.Check(q, static_cast<int>(g), static_cast<int>(w));
        break;
      }
      case 3: {
        CORBA::Fixed g, w;
        if ((extracted = (got[i] >>= CORBA::Any::to_fixed(g, 9, 2)) && (want[i] >>= CORBA::Any::to_fixed(w, 9, 2))))
          d.Check<CORBA::Fixed>(q, g, w);
        break;
      }
      case 4: {
        CORBA::Long g, w;
        if ((extracted = (got[i] >>= g) && (want[i] >>= w))) d.Check(q, g, w);
        break;
      }
      case 5: {
        const char *g, *w;
        if ((extracted = (got[i] >>= g) && (want[i] >>= w))) d.CheckStr(q, g, w);
        break;
      }
      case 6: {
        const RT::InnerSeq *g, *w;
        if ((extracted = (got[i] >>= g) && (want[i] >>= w))) CompareInners(d, q, *g, *w);
        break;
      }
    }
    if (!extracted) d.Fail(q, "value could not be extracted");
  }
}

inline std::string CompareBig(const RT::Big& got, CORBA::Object_ptr self) {
  RT::Big want = MakeBig(self);
  Diff d;
  CompareRec(d, "r", got.r, want.r);
  d.Check("unions.length", got.unions.length(), want.unions.length());
  for (CORBA::ULong i = 0; d.ok() && i < want.unions.length(); ++i)
    CompareU(d, "unions[" + std::to_string(i) + "]", got.unions[i], want.unions[i]);
  CompareInners(d, "inners", got.inners, want.inners);
  d.Check("bytes.length", got.bytes.length(), want.bytes.length());
  for (CORBA::ULong i = 0; d.ok() && i < want.bytes.length(); ++i)
    d.Check("bytes[" + std::to_string(i) + "]", got.bytes[i], want.bytes[i]);
  d.Check("nameList.length", got.nameList.length(), want.nameList.length());
  for (CORBA::ULong i = 0; d.ok() && i < want.nameList.length(); ++i)
    d.CheckStr("nameList[" + std::to_string(i) + "]", got.nameList[i], want.nameList[i]);
  CompareAnys(d, "anys", got.anys, want.anys);
  if (d.ok() && (CORBA::is_nil(got.obj) || !got.obj->_is_equivalent(self))) d.Fail("obj", "not the object called");
  if (d.ok() && (CORBA::is_nil(got.tc) || !got.tc->equal(RT::_tc_Node))) d.Fail("tc", "not RT::_tc_Node");
  d.Check("eunion._d", static_cast<int>(got.eunion._d()), static_cast<int>(want.eunion._d()));
  d.Check("bunion._d", got.bunion._d(), want.bunion._d());
  d.Check("cunion._d", got.cunion._d(), want.cunion._d());
  if (d.ok()) d.Check("cunion.o", got.cunion.o(), want.cunion.o());
  CompareNode(d, "tree", got.tree, want.tree);
  return d.msg();
}

inline std::string CompareWRec(const RT::WRec& got) {
  RT::WRec want = MakeWRec();
  Diff d;
  d.Check("wc", static_cast<long>(got.wc), static_cast<long>(want.wc));
  d.CheckWStr("ws", got.ws, want.ws);
  d.CheckWStr("wsb", got.wsb, want.wsb);
  return d.msg();
}

}  // namespace rt

#endif
