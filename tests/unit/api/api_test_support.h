#pragma once
// What the API unit tests share: building signed requests as the AWS CLI
// sends them, and running ControlPlane::Handle to completion.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <ctime>
#include <exception>
#include <optional>
#include <string>

#include "api/control_plane.h"
#include "auth/sigv4.h"

namespace porthole::api::test {

// A POST to "/" with `content_type` and, when given, X-Amz-Target; signed for
// `service` in `region` with `credentials` when they are given, at `when`.
inline net::HttpRequest SignedPost(const std::string& host, const std::string& content_type, const std::string& target,
                                   std::string body, const std::optional<auth::Credentials>& credentials,
                                   const std::string& region, const std::string& service,
                                   std::time_t when = std::time(nullptr)) {
  net::HttpRequest request;
  request.method = "POST";
  request.target = "/";
  request.headers.emplace_back("Host", host);
  request.headers.emplace_back("Content-Type", content_type);
  if (!target.empty()) request.headers.emplace_back("X-Amz-Target", target);
  request.body = std::move(body);
  if (credentials) auth::SignRequest(request, *credentials, region, service, when);
  return request;
}

// Runs Handle() on `io`; nullopt (and a test failure) if it did not complete normally.
inline std::optional<net::HttpResponse> RunHandle(boost::asio::io_context& io, ControlPlane& plane,
                                                  net::HttpRequest request) {
  std::optional<net::HttpResponse> response;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, plane.Handle(std::move(request), net::RequestContext{"127.0.0.1", true}),
                        [&](std::exception_ptr e, net::HttpResponse r) {
                          failure = e;
                          response = std::move(r);
                        });
  io.restart();
  io.run();
  if (failure || !response) {
    ADD_FAILURE() << "Handle did not complete normally";
    return std::nullopt;
  }
  return response;
}

}  // namespace porthole::api::test
