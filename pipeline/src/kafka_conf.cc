#include "kafka_conf.h"

namespace chorus {

Result<KafkaConfPtr> MakeKafkaConf(const KafkaProperties& defaults,
                                   const KafkaProperties& overrides) {
  KafkaConfPtr conf(rd_kafka_conf_new());
  char err[512];
  for (const auto* props : {&defaults, &overrides}) {
    for (const auto& [key, value] : *props) {
      if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), err, sizeof err) !=
          RD_KAFKA_CONF_OK) {
        return Status::Error("kafka property " + key + ": " + err);
      }
    }
  }
  return conf;
}

Result<KafkaHandlePtr> OpenProbeConsumer(const KafkaProperties& defaults,
                                         const KafkaProperties& properties, const char* what) {
  KafkaProperties probe = {{"enable.auto.commit", "false"}, {"enable.partition.eof", "true"}};
  for (const auto& [k, v] : defaults) probe[k] = v;
  auto conf = MakeKafkaConf(probe, properties);
  if (!conf.ok()) return conf.status();
  char err[512];
  KafkaHandlePtr rk(rd_kafka_new(RD_KAFKA_CONSUMER, conf.value().get(), err, sizeof err));
  if (!rk) return Status::Error(std::string(what) + ": " + err);
  conf.value().release();  // owned by the handle once rd_kafka_new succeeds
  return rk;
}

}  // namespace chorus
