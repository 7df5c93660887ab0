#include "net/tls.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/crypto.h"
#include "common/files.h"

namespace porthole::net {
namespace ssl = boost::asio::ssl;

TlsContext::TlsContext() = default;
TlsContext::~TlsContext() = default;
SSL_CTX* TlsContext::native_handle() { return ctx_->native_handle(); }

namespace {
std::string OpenSslError() {
  unsigned long e = ERR_get_error();
  if (!e) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

// Our contexts set every option they rely on, so the system's openssl.cnf
// is not read (work every short-lived CLI process did for nothing). Takes
// effect only as the process's first OpenSSL call; later it is a no-op.
void InitOpenSsl() { OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, nullptr); }
}  // namespace

Result<std::shared_ptr<TlsContext>> TlsContext::ForServer(const std::string& cert_file, const std::string& key_file) {
  InitOpenSsl();
  std::shared_ptr<TlsContext> t(new TlsContext());
  t->ctx_ = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  t->ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                       ec);
  t->ctx_->use_certificate_chain_file(cert_file, ec);
  if (ec) return MakeError("TlsError", "cannot load certificate " + cert_file + ": " + ec.message(), 500);
  t->ctx_->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) return MakeError("TlsError", "cannot load private key " + key_file + ": " + ec.message(), 500);
  return t;
}

Result<std::shared_ptr<TlsContext>> TlsContext::ForClient(const std::string& ca_pem) {
  InitOpenSsl();
  std::shared_ptr<TlsContext> t(new TlsContext());
  t->ctx_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  t->ctx_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                       ec);
  t->ctx_->set_verify_mode(ssl::verify_peer, ec);
  if (ca_pem.empty()) {
    t->ctx_->set_default_verify_paths(ec);
  } else {
    t->ctx_->add_certificate_authority(boost::asio::buffer(ca_pem), ec);
  }
  if (ec) return MakeError("TlsError", "cannot load CA certificates: " + ec.message(), 500);
  return t;
}

namespace {

using PkeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;

PkeyPtr NewKey() { return PkeyPtr(EVP_EC_gen("P-256"), EVP_PKEY_free); }

std::string KeyToPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

std::string CertToPem(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(n));
  BIO_free(bio);
  return out;
}

bool AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (!ext) return false;
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return true;
}

X509Ptr NewCert(EVP_PKEY* key, const std::string& common_name, int days) {
  X509Ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  std::string serial = crypto::RandomBytes(16);
  serial[0] = static_cast<char>(serial[0] & 0x7f);
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(serial.data()), 16, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Porthole"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name.c_str()),
                             -1, -1, 0);
  return cert;
}


}  // namespace

Status EnsureServerCertificates(const std::string& dir, const std::vector<std::string>& ip_addresses,
                                const std::vector<std::string>& dns_names) {
  namespace fs = std::filesystem;
  fs::path d(dir);
  if (fs::exists(d / "ca.pem") && fs::exists(d / "server.pem") && fs::exists(d / "server.key")) return OkStatus();

  PkeyPtr ca_key = NewKey();
  PkeyPtr server_key = NewKey();
  if (!ca_key || !server_key) return MakeError("TlsError", "key generation failed: " + OpenSslError(), 500);

  X509Ptr ca = NewCert(ca_key.get(), "Porthole private CA", 3650);
  X509_set_issuer_name(ca.get(), X509_get_subject_name(ca.get()));
  AddExtension(ca.get(), ca.get(), NID_basic_constraints, "critical,CA:TRUE");
  AddExtension(ca.get(), ca.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  AddExtension(ca.get(), ca.get(), NID_subject_key_identifier, "hash");
  if (!X509_sign(ca.get(), ca_key.get(), EVP_sha256()))
    return MakeError("TlsError", "CA signing failed: " + OpenSslError(), 500);

  X509Ptr server = NewCert(server_key.get(), "portholed", 825);
  X509_set_issuer_name(server.get(), X509_get_subject_name(ca.get()));
  std::string san;
  for (const auto& ip : ip_addresses) san += (san.empty() ? "" : ",") + std::string("IP:") + ip;
  for (const auto& dns : dns_names) san += (san.empty() ? "" : ",") + std::string("DNS:") + dns;
  AddExtension(server.get(), ca.get(), NID_basic_constraints, "critical,CA:FALSE");
  AddExtension(server.get(), ca.get(), NID_key_usage, "critical,digitalSignature,keyEncipherment");
  AddExtension(server.get(), ca.get(), NID_ext_key_usage, "serverAuth");
  AddExtension(server.get(), ca.get(), NID_authority_key_identifier, "keyid:always");
  if (!san.empty() && !AddExtension(server.get(), ca.get(), NID_subject_alt_name, san))
    return MakeError("TlsError", "bad subjectAltName " + san, 500);
  if (!X509_sign(server.get(), ca_key.get(), EVP_sha256()))
    return MakeError("TlsError", "server signing failed: " + OpenSslError(), 500);

  // Keys first, certificates last: ca.pem existing means the set is complete.
  for (auto [name, content, mode] :
       {std::tuple{"ca.key", KeyToPem(ca_key.get()), 0600}, std::tuple{"server.key", KeyToPem(server_key.get()), 0600},
        std::tuple{"server.pem", CertToPem(server.get()), 0644}, std::tuple{"ca.pem", CertToPem(ca.get()), 0644}}) {
    Status s = WriteFileAtomic((d / name).string(), content, static_cast<mode_t>(mode));
    if (!s) return s;
  }
  return OkStatus();
}

}  // namespace porthole::net
