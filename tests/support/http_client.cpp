#include "http_client.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/system/system_error.hpp>

#include <charconv>
#include <sstream>

namespace band::test {

namespace http = boost::beast::http;

namespace {

std::string to_string(const tcp::endpoint& endpoint) {
  std::ostringstream text;
  text << endpoint;
  return text.str();
}

}  // namespace

http_connection::http_connection(const tcp::endpoint& server, std::chrono::milliseconds timeout)
    : server_(server), timeout_(timeout), stream_(context_) {
  complete("connect", [this](auto handler) { stream_.async_connect(server_, std::move(handler)); });
}

// Runs one asynchronous operation to its end on this connection's own
// io_context, because Beast's synchronous calls have no timeout while
// tcp_stream's asynchronous ones do.
template <class Initiate>
void http_connection::complete(const std::string& operation, Initiate&& initiate) {
  boost::system::error_code result = boost::asio::error::would_block;
  stream_.expires_after(timeout_);
  initiate([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  context_.restart();
  context_.run();
  if (result) throw boost::system::system_error(result, operation + " " + to_string(server_));
}

void http_connection::send_get(const std::string& target) {
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, to_string(server_));
  request.set(http::field::user_agent, "band-test");
  complete("GET " + target + " to", [&](auto handler) { http::async_write(stream_, request, std::move(handler)); });
}

http_response http_connection::read_response() {
  http_response response;
  complete("reading the response from",
           [&](auto handler) { http::async_read(stream_, buffer_, response, std::move(handler)); });
  return response;
}

http_response http_connection::get(const std::string& target) {
  send_get(target);
  return read_response();
}

http_response http_get(const tcp::endpoint& server, const std::string& target, std::chrono::milliseconds timeout) {
  http_connection connection(server, timeout);
  return connection.get(target);
}

pid_t worker_pid_of(const http_response& response) {
  const auto text = response["X-Worker-Pid"];
  pid_t pid = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc{} || end != text.data() + text.size()) return 0;
  return pid;
}

}  // namespace band::test
