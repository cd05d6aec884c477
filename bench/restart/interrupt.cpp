#include "interrupt.hpp"

#include <csignal>

namespace bench {

namespace {

volatile std::sig_atomic_t interrupt_received = 0;

void record_interrupt(int) { interrupt_received = 1; }

}  // namespace

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = record_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

void throw_if_interrupted() {
  if (interrupt_received != 0) throw interrupted_error();
}

}  // namespace bench
