#pragma once
// `session-manager-plugin` compatibility: when Porthole's CLI is installed
// (or linked) under that name, it honours the plugin's command line as the
// AWS CLI calls it (shared/protocol/session-data-channel.md §1, §2):
//   (no arguments)          the "installed successfully" probe, exit 0
//   --version               the plugin protocol level implemented
//   <session> <region> StartSession <profile> <parameters> <endpoint>
//                           a session; <session> may be the literal
//                           AWS_SSM_START_SESSION_RESPONSE (read from that variable)
// Unlike AWS's plugin it exits with the remote command's exit status.
namespace porthole::cli {

int RunPluginMode(int argc, char** argv);

}  // namespace porthole::cli
