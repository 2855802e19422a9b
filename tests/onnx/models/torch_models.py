"""PyTorch definitions of the ONNX test models (torch 1.13, CPU, float32).

Every model is built from a fixed seed, so two runs produce identical
weights. Nothing is downloaded: python3-torchvision is not installed, so
ResNet-18 is defined here from its published architecture.

  mlp160    160 -> 256 -> 128 -> 8, ReLU (a tabular classifier)
  blocknet  [N,3,8,8] pixel blocks: 3 depthwise-separable layers
            3 -> 32 -> 64 -> 64 (BatchNorm after every conv, folded by the
            exporter), global average pool, 4 heads 64 -> 32 -> {8,6,8,16}
  resnet18  ResNet-18 (BasicBlock, 1000 classes), [1,3,224,224]
  smallcnn  a small classifier that exercises more ONNX ops: BatchNorm
            kept as its own node, MaxPool, AveragePool, Concat, Clip
            (ReLU6), Reshape, Softmax and a Sigmoid head
"""
import torch
import torch.nn as nn

SEEDS = {"mlp160": 160, "blocknet": 883, "resnet18": 18, "smallcnn": 32}
RESIDUAL_BN_WEIGHT = 0.3  # see ResNet18
BLOCKNET_HEADS = (("predictor", 8), ("filter", 6), ("scan", 8), ("entropy", 16))


class Mlp160(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(160, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 8)

    def forward(self, x):
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def conv_bn(cin, cout, kernel, stride=1, groups=1):
    """Conv (no bias: the BatchNorm after it supplies the shift) + BN."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2,
                  groups=groups, bias=False),
        nn.BatchNorm2d(cout))


class SeparableLayer(nn.Module):
    """Depthwise 3x3 + BN + ReLU, then pointwise 1x1 + BN + ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.depthwise = conv_bn(cin, cin, 3, groups=cin)
        self.pointwise = conv_bn(cin, cout, 1)

    def forward(self, x):
        return torch.relu(self.pointwise(torch.relu(self.depthwise(x))))


class BlockNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.Sequential(SeparableLayer(3, 32), SeparableLayer(32, 64),
                                    SeparableLayer(64, 64))
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, classes))
            for _, classes in BLOCKNET_HEADS)

    def forward(self, x):
        x = self.layers(x)
        x = torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
        return tuple(head(x) for head in self.heads)


class BasicBlock(nn.Module):
    """Two 3x3 conv+BN with a residual connection (1x1 conv+BN projection
    when the shape changes), as in He et al. 2016 and torchvision."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride=stride)
        self.conv2 = conv_bn(cout, cout, 3)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = conv_bn(cin, cout, 1, stride=stride)

    def forward(self, x):
        y = self.conv2(torch.relu(self.conv1(x)))
        skip = x if self.shortcut is None else self.shortcut(x)
        return torch.relu(y + skip)


class ResNet18(nn.Module):
    def __init__(self, classes=1000):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
            nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1))
        stages = []
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.fc = nn.Linear(512, classes)
        # torchvision's initialisation: He-normal convs, BN weight 1 bias 0,
        # except that the last BN of every residual branch gets weight 0.3
        # (torchvision's zero_init_residual uses 0). With weight 1 a random
        # 8-block ResNet is chaotic: a 1% perturbation of the input (int8
        # rounding) grows to about 25% at the last block, which no trained
        # network does; at 0.3 it stays under 10%, as in trained ResNets.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        for block in self.stages:
            nn.init.constant_(block.conv2[1].weight, RESIDUAL_BN_WEIGHT)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class SmallCnn(nn.Module):
    """[N,3,32,32] -> probabilities [N,10] (Softmax) and attributes [N,4]
    (Sigmoid)."""

    def __init__(self):
        super().__init__()
        self.stem = conv_bn(3, 16, 3)
        self.branch_1x1 = nn.Conv2d(16, 16, 1)
        self.branch_3x3 = nn.Conv2d(16, 16, 3, padding=1)
        self.reduce = nn.Conv2d(32, 32, 3, stride=2, padding=1)
        self.classifier = nn.Linear(32, 10)
        self.attributes = nn.Linear(32, 4)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.stem(x)), 2)
        x = torch.cat([nn.functional.relu6(self.branch_1x1(x)),
                       torch.relu(self.branch_3x3(x))], dim=1)
        # count_include_pad=False: torch 1.13 would otherwise export a no-op Pad
        x = nn.functional.avg_pool2d(x, 2, count_include_pad=False)
        x = torch.relu(self.reduce(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1).reshape(-1, 32)
        return (torch.softmax(self.classifier(x), dim=1),
                torch.sigmoid(self.attributes(x)))


def estimate_batchnorm_statistics(model, batches):
    """Replaces every BatchNorm's running statistics by the exact average
    over `batches` (random weights give activations that grow or vanish
    with depth; BN computed on data keeps each layer near zero mean, unit
    variance, as in a trained network)."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average over all batches
    model.train()
    with torch.no_grad():
        for x in batches:
            model(x)
    return model.eval()


def random_bn_affine(model, generator):
    """Gives every BatchNorm a non-trivial scale and shift so that folding
    them is visible in the weights (fresh BN layers are the identity)."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(torch.empty_like(m.weight).uniform_(0.5, 1.5, generator=generator))
                m.bias.copy_(torch.empty_like(m.bias).uniform_(-0.2, 0.2, generator=generator))


RESNET18_CLASSES = 50  # "live" classes 0..49, see fit_classifier_to_prototypes
RESNET18_NOISE = 0.5


def resnet18_prototypes():
    """One smooth random image per live class (7x7 noise upsampled to
    224x224, unit standard deviation): a stand-in for the visual classes a
    trained network separates."""
    g = torch.Generator().manual_seed(SEEDS["resnet18"] + 7)
    coarse = torch.randn((RESNET18_CLASSES, 3, 7, 7), generator=g)
    images = nn.functional.interpolate(coarse, size=(224, 224), mode="bilinear",
                                       align_corners=False)
    return images / images.std(dim=(1, 2, 3), keepdim=True)


def resnet18_samples(count, generator, labels=None):
    """Images of live classes: prototype + white noise (std
    RESNET18_NOISE). Returns (images, labels); random labels unless given."""
    protos = resnet18_prototypes()
    if labels is None:
        labels = torch.randint(0, RESNET18_CLASSES, (count,), generator=generator)
    noise = torch.randn((count, 3, 224, 224), generator=generator)
    return protos[labels] + RESNET18_NOISE * noise, labels


def _pooled_features(model, x, chunk=10):
    parts = []
    with torch.no_grad():
        for i in range(0, len(x), chunk):
            y = model.stages(model.stem(x[i:i + chunk]))
            parts.append(torch.flatten(nn.functional.adaptive_avg_pool2d(y, 1), 1))
    return torch.cat(parts)


def fit_classifier_to_prototypes(model):
    """With random weights every image gets nearly the same features, so
    the 1000 logits are near-tied and top-1 says nothing. Instead, row c of
    the final Linear (c < RESNET18_CLASSES) becomes the centred, normalised
    features of one sample of class c: a nearest-template classifier, like a
    trained head. Its top-1 on new samples is right most of the time with a
    real but not huge margin (the noise makes some samples ambiguous), so
    int8 top-1 agreement measures whether quantization keeps the features
    apart. Rows >= RESNET18_CLASSES keep their random initialisation and
    centred bias (logits near 0)."""
    g = torch.Generator().manual_seed(SEEDS["resnet18"] + 8)
    templates, _ = resnet18_samples(RESNET18_CLASSES, g,
                                    labels=torch.arange(RESNET18_CLASSES))
    feats = _pooled_features(model, templates)
    mean = feats.mean(dim=0)
    centred = feats - mean
    # scaled so that a template's own logit is about 8
    rows = centred / centred.norm(dim=1, keepdim=True) * (8.0 / centred.norm(dim=1).mean())
    with torch.no_grad():
        model.fc.weight[:len(rows)] = rows
        model.fc.bias[:] = -(model.fc.weight @ mean)
    return model


def build(name, bn_inputs):
    """The float model `name` in eval mode. `bn_inputs(batch, generator)`
    draws input batches used to estimate BatchNorm statistics."""
    torch.manual_seed(SEEDS[name])
    g = torch.Generator().manual_seed(SEEDS[name] + 1)
    if name == "mlp160":
        return Mlp160().eval()
    if name == "blocknet":
        m = BlockNet()
        random_bn_affine(m, g)
        return estimate_batchnorm_statistics(m, [bn_inputs(256, g) for _ in range(2)])
    if name == "resnet18":
        m = ResNet18()
        m = estimate_batchnorm_statistics(m, [bn_inputs(8, g) for _ in range(3)])
        return fit_classifier_to_prototypes(m)
    if name == "smallcnn":
        m = SmallCnn()
        random_bn_affine(m, g)
        return estimate_batchnorm_statistics(m, [bn_inputs(64, g)])
    raise KeyError(name)
