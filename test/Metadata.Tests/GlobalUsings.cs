global using KafScale.TestSupport;
global using Xunit;
