// NativeMessaging_c.hh -- the name VisiBroker's C++ documentation includes
// for the NativeMessaging module, so that an application's include line
// does not change (docs/cpp-client.md). It is requestagent/nm.hh.
#ifndef REQUESTAGENT_NATIVEMESSAGING_C_HH
#define REQUESTAGENT_NATIVEMESSAGING_C_HH
#include "nm.hh"
#endif
