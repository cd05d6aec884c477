// The master's lifecycle changes that clients must not notice: readiness,
// drains, rolling reloads, scaling and recycling.
#include "channel.hpp"
#include "master.hpp"

#include <band/common/parse.hpp>

#include <spdlog/spdlog.h>

#include <sys/socket.h>

#include <algorithm>
#include <csignal>

namespace band {

namespace asio = boost::asio;
using common::format_duration;

// Reads the worker's messages: acknowledgements of passed connections and
// its readiness.
void master::read_channel(const process_ptr& process) {
  process->channel.async_wait(
      asio::posix::descriptor_base::wait_read, [this, weak = std::weak_ptr(process)](boost::system::error_code ec) {
        const auto reader = weak.lock();
        if (ec || !reader || !reader->channel.is_open()) return;
        for (;;) {
          message received{};
          int fd = -1;
          transfer result = transfer::closed;
          try {
            result = receive_message(reader->channel.native_handle(), received, fd);
          } catch (const std::system_error& error) {
            spdlog::error("worker {} pid {}: {}", reader->slot, reader->child.pid(), error.what());
            continue;
          }
          if (result == transfer::closed) return;  // it is exiting; SIGCHLD follows
          if (result == transfer::would_block) return read_channel(reader);
          if (received.kind == message_kind::ack) balancer_.acknowledge(reader->record, received.value);
          else if (received.kind == message_kind::ready) handle_ready(reader);
          else if (received.kind == message_kind::limit) check_request_limit(reader);
        }
      });
}

// A worker is ready: it gets connections from now on, and if it was started
// to replace another, that one drains.
void master::handle_ready(const process_ptr& process) {
  if (process->state != worker_process::phase::starting) return;
  process->state = worker_process::phase::serving;
  process->ready_timer.cancel();
  spdlog::info("worker {} pid {} ready after {}", process->slot, process->child.pid(),
               format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(monotonic_clock::now() -
                                                                                      process->started)));
  balancer_.add_target(process->record, process->channel);
  steer_to_ready_slots();

  slot& s = *slots_[process->slot];
  if (s.successor == process) {
    const process_ptr previous = std::exchange(s.current, process);
    s.successor.reset();
    if (previous) drain(previous, std::exchange(s.succession_reason, {}));
  }
  if (reloading_) continue_reload();
}

void master::handle_ready_timeout(const process_ptr& process) {
  if (process->state != worker_process::phase::starting || stopping_) return;
  const std::string reason = "not ready within the --ready-timeout of " + format_duration(options_.ready_timeout);
  slot& s = *slots_[process->slot];
  if (s.successor == process) {
    spdlog::error("worker {} pid {} {}", process->slot, process->child.pid(), reason);
    if (reloading_) return abort_reload("worker " + std::to_string(process->slot) + " pid " +
                                        std::to_string(process->child.pid()) + " was " + reason);
    // A recycle that failed: the serving worker goes on.
    s.successor.reset();
    if (s.current) {
      spdlog::error("worker {} pid {}: replacing it failed; it goes on serving", process->slot,
                    s.current->child.pid());
    }
    return drain(process, reason);
  }
  // A successor that took over from a worker that died is the reload's
  // worker for the slot: missing the timeout fails the reload.
  if (reloading_ && s.current == process && process->reload_number >= reload_number_) {
    abort_reload("worker " + std::to_string(process->slot) + " pid " + std::to_string(process->child.pid()) +
                 " was " + reason);
  }
  restart_unhealthy(process, SIGTERM, reason);
}

// Takes a worker out of its slot and asks it to finish its requests and
// exit; SIGKILL follows after the graceful timeout.
void master::drain(const process_ptr& process, std::string reason) {
  process->state = worker_process::phase::draining;
  process->ready_timer.cancel();
  balancer_.retire_target(process->record);
  draining_.push_back(process);
  spdlog::info("worker {} pid {} draining: {}", process->slot, process->child.pid(), reason);
  process->stop_reason = std::move(reason);
  process->child.signal(SIGTERM);
  process->kill_timer.expires_after(options_.graceful_timeout);
  process->kill_timer.async_wait([this, weak = std::weak_ptr(process)](boost::system::error_code ec) {
    const auto waited = weak.lock();
    if (ec || !waited || !waited->child.running()) return;
    spdlog::warn("worker {} pid {} still draining after the --graceful-timeout of {}; sending SIGKILL",
                 waited->slot, waited->child.pid(), format_duration(options_.graceful_timeout));
    waited->child.signal(SIGKILL);
  });
}

// A rolling reload replaces every slot's worker with a new one, a batch of
// slots at a time: the new worker starts, reports ready, and only then does
// the old one drain. A second SIGHUP during a reload raises the reload
// number, so slots already replaced are replaced again and the band ends
// with workers of one reload.
// NOTE: a reload forks the same binary with the same options; reading a
// changed configuration comes with day 05, a new binary with day 08.
void master::begin_reload() {
  ++reload_number_;
  spdlog::info("received SIGHUP; reload {}: replacing {}, {} at a time", reload_number_,
               common::plural(slots_.size(), "worker"),
               std::min<std::size_t>(options_.reload_batch, slots_.size()));
  reloading_ = true;
  continue_reload();
}

void master::continue_reload() {
  // A slot is in progress while its successor starts, and also while a
  // successor that took over from a worker that died is not yet ready.
  unsigned in_progress = 0;
  for (const auto& s : slots_) {
    const bool taking_over = s->current && s->current->state == worker_process::phase::starting &&
                             s->current->reload_number >= reload_number_;
    in_progress += s->successor || taking_over ? 1 : 0;
  }
  bool outdated_left = false;
  for (unsigned index = 0; index < slots_.size(); ++index) {
    slot& s = *slots_[index];
    // A slot whose worker died has no worker during its restart backoff.
    // The restarted worker belongs to this reload, so its ready report
    // finishes the slot.
    if (!s.current) {
      outdated_left = true;
      continue;
    }
    if (s.current->reload_number >= reload_number_) continue;
    outdated_left = true;
    if (s.successor || in_progress >= options_.reload_batch) continue;
    replace_gracefully(index, "reload " + std::to_string(reload_number_));
    if (!s.successor) return abort_reload("worker " + std::to_string(index) + " could not be started");
    ++in_progress;
  }
  if (outdated_left || in_progress != 0) return;
  reloading_ = false;
  // Workers added by SIGTTIN during the reload count too: they started
  // with its generation.
  spdlog::info("reload {} finished: {} serving, all new", reload_number_, common::plural(slots_.size(), "worker"));
}

// Stops the reload: workers that are still starting drain, and every slot
// keeps the worker it has, old or new.
void master::abort_reload(const std::string& reason) {
  reloading_ = false;
  spdlog::error("reload {} failed: {}; the serving workers go on", reload_number_, reason);
  for (auto& s : slots_) {
    if (!s->successor) continue;
    const process_ptr starting = std::exchange(s->successor, nullptr);
    if (starting->child.running()) drain(starting, "the failed reload");
  }
}

// Starts a successor for slot `index`; the serving worker drains once the
// successor is ready.
void master::replace_gracefully(unsigned index, std::string reason) {
  slot& s = *slots_[index];
  if (s.successor || stopping_) return;
  s.successor = spawn_worker(index);
  if (s.successor) s.succession_reason = std::move(reason);
}

void master::add_slot() {
  if (slots_.size() >= max_workers) {
    return spdlog::warn("received SIGTTIN; already at the maximum of {} workers", max_workers);
  }
  const auto index = static_cast<unsigned>(slots_.size());
  spdlog::info("received SIGTTIN; adding worker {}", index);
  slots_.push_back(std::make_unique<slot>(context_));
  if (options_.strategy == balance::reuseport) {
    // A removed slot's socket that is still open sits after the last active
    // one in the reuseport group; a new socket would join behind it, where
    // the steering program does not reach. Closing the master's copy is not
    // enough, because the draining worker keeps its copy until it handles SIGTERM.
    // shutdown() takes the socket out of the group for every holder at once.
    // What is queued on it goes to the other workers first; nothing new has
    // reached it since the SIGTTOU.
    for (auto& retired : retired_listeners_) {
      balancer_.take_queued(retired.first.fd());
      ::shutdown(retired.first.fd(), SHUT_RD);
    }
    retired_listeners_.clear();
    add_listener();
  }
  slots_.back()->current = spawn_worker(index);
}

// Removes the newest slot: its worker drains and is not replaced.
void master::remove_slot() {
  if (slots_.size() <= 1) return spdlog::warn("received SIGTTOU; keeping the last worker");
  const auto index = static_cast<unsigned>(slots_.size() - 1);
  spdlog::info("received SIGTTOU; removing worker {}", index);
  std::unique_ptr<slot> removed = std::move(slots_.back());
  slots_.pop_back();
  removed->respawn_timer.cancel();
  if (removed->successor) drain(removed->successor, "removal by SIGTTOU");
  if (removed->current) drain(removed->current, "removal by SIGTTOU");
  // A reload waiting for the removed slot's successor goes on without it.
  if (reloading_) continue_reload();

  if (options_.strategy != balance::reuseport) return;
  // New connections stop reaching the slot's socket at once. The master takes
  // what is already queued there now, and again when the worker has exited
  // and the socket closes.
  common::listener socket = std::move(listeners_.back());
  listeners_.pop_back();
  steered_sockets_ = std::min(steered_sockets_, listeners_.size());
  update_reuseport_steering();
  balancer_.take_queued(socket.fd());
  if (removed->current) retired_listeners_.emplace_back(std::move(socket), removed->current->child.pid());
  else ::shutdown(socket.fd(), SHUT_RD);  // a draining worker of the slot may hold a copy
}

}  // namespace band
