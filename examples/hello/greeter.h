// Greeter: the interface hello_server serves and hello_client calls. Both
// programs include this header; only the server implements it.
//
// VATIC_METHODS lists the methods a peer may call by name: a call from
// another process arrives as the name "greet" and its arguments, and is
// dispatched to the implementation's override. Arguments and results are
// vatic values (numbers, strings, vectors, records with VATIC_FIELDS,
// references).
#pragma once

#include <string>

#include "vat/object.h"

class Greeter : public vatic::Object {
 public:
  virtual std::string greet(std::string name) = 0;
  VATIC_METHODS(Greeter, greet)
};
